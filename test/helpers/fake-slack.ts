import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSlackCall {
  /** Web API method (`chat.postMessage`) or `response_url` for an answer to a command or button. */
  method: string;
  /** For response_url calls: the id in `/response/<id>`. */
  responseId?: string;
  body: Record<string, unknown>;
  authorization?: string;
}

export type FakeSlackMode = 'ok' | 'error500' | 'hang';

export interface FakeSlack {
  /** Base URL for SLACK_API_URL, ending in '/'. */
  apiUrl: string;
  /** A response_url Slack would put in a command or button payload. */
  responseUrl(id: string): string;
  calls: FakeSlackCall[];
  callsTo(method: string): FakeSlackCall[];
  setMode(mode: FakeSlackMode): void;
  /** Polls (bounded) until `predicate` holds for the recorded calls; throws after `timeoutMs`. */
  waitFor(predicate: (calls: FakeSlackCall[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface FakeSlackOptions {
  /** What `apps.connections.open` hands out as the Socket Mode websocket URL (Socket Mode tests). */
  socketModeUrl?: string;
}

/**
 * A stand-in for Slack's Web API and response_url endpoints on 127.0.0.1: records every call and
 * can be switched to answer 500 or to hang, to prove that a broken Slack never slows the gateway.
 */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const calls: FakeSlackCall[] = [];
  let mode: FakeSlackMode = 'ok';
  const hanging = new Set<ServerResponse>();

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readAll(req);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = parseBody(raw, req.headers['content-type'] ?? '');
    const response = /^\/response\/([^/]+)$/.exec(url.pathname);
    const method = response ? 'response_url' : url.pathname.replace(/^\/api\//, '');
    calls.push({
      method,
      ...(response?.[1] ? { responseId: response[1] } : {}),
      body,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    if (mode === 'hang') {
      hanging.add(res);
      return;
    }
    if (mode === 'error500') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (response) return void res.end(JSON.stringify({ ok: true }));
    if (method === 'auth.test') {
      return void res.end(
        JSON.stringify({ ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1', user: 'tollgate' }),
      );
    }
    if (method === 'apps.connections.open' && options.socketModeUrl) {
      return void res.end(JSON.stringify({ ok: true, url: options.socketModeUrl }));
    }
    res.end(JSON.stringify({ ok: true, channel: body.channel ?? 'C0', ts: `${Date.now() / 1000}` }));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  return {
    apiUrl: `${base}/api/`,
    responseUrl: (id) => `${base}/response/${id}`,
    calls,
    callsTo: (method) => calls.filter((c) => c.method === method),
    setMode(m) {
      // Leaving 'hang' fails the calls still hanging, as a recovering Slack would drop them.
      if (mode === 'hang' && m !== 'hang') {
        for (const res of hanging) res.writeHead(500).end('recovering');
        hanging.clear();
      }
      mode = m;
    },
    async waitFor(predicate, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(calls)) {
        if (Date.now() > deadline) throw new Error(`fake Slack: condition not met within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The Web API client sends forms whose nested values (blocks) are JSON strings; response_url gets JSON. */
function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (raw === '') return {};
  if (contentType.includes('json')) return JSON.parse(raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    out[k] = v.startsWith('[') || v.startsWith('{') ? safeJson(v) : v;
  }
  return out;
}

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}
