import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { cannedMedia, MEDIA_PATHS } from './fake-media.js';

/**
 * A fake OpenAI/Anthropic upstream on 127.0.0.1:0. By default it answers every route with canned
 * JSON or SSE carrying the usage below; a test can queue other behaviours (errors, delays, hangs,
 * resets mid-stream). It records what it received, so tests can assert on headers and bodies.
 */

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body's bytes exactly as they arrived (uploads are compared byte for byte). */
  raw: Buffer;
  json: Record<string, unknown> | undefined;
}

export type Behaviour = (req: Received, res: ServerResponse) => void | Promise<void>;

/**
 * Usage the canned answers report, as the providers report it, so tests can compute the exact
 * cost: OpenAI's cached prompt tokens and reasoning tokens (parts of prompt_tokens and
 * completion_tokens), Anthropic's uncached input, cache reads and cache writes apart, the writes
 * split by TTL in `cache_creation`.
 */
export const CANNED = {
  chat: {
    prompt_tokens: 1200,
    completion_tokens: 345,
    prompt_tokens_details: { cached_tokens: 200, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 45, audio_tokens: 0 },
  },
  completions: { prompt_tokens: 50, completion_tokens: 7 },
  embeddings: { prompt_tokens: 9 },
  responses: { input_tokens: 800, output_tokens: 120, input_tokens_details: { cached_tokens: 300 } },
  messages: {
    input_tokens: 100,
    cache_read_input_tokens: 1000,
    cache_creation_input_tokens: 50,
    cache_creation: { ephemeral_5m_input_tokens: 30, ephemeral_1h_input_tokens: 20 },
    output_tokens: 77,
  },
  countTokens: { input_tokens: 42 },
  text: ['Hello', ', ', 'world', '!'],
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Behaviour {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
}

export interface SseOptions {
  delayMs?: number;
  /** Destroy the connection after this many events instead of ending. */
  resetAfter?: number;
  /** Stop after this many events and keep the connection open forever. */
  hangAfter?: number;
}

/** Each item is one SSE event: an object becomes `data: JSON`, a string is sent as written. */
export function sse(events: Array<string | Record<string, unknown>>, opts: SseOptions = {}): Behaviour {
  return async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    let sent = 0;
    for (const e of events) {
      if (opts.resetAfter !== undefined && sent >= opts.resetAfter) {
        res.socket?.destroy();
        return;
      }
      if (opts.hangAfter !== undefined && sent >= opts.hangAfter) return;
      if (res.destroyed) return;
      // Wait until the bytes are handed to the socket, so a reset right after cannot swallow them.
      await new Promise<void>((resolve) =>
        res.write(typeof e === 'string' ? e : `data: ${JSON.stringify(e)}\n\n`, () => resolve()),
      );
      sent++;
      if (opts.delayMs) await sleep(opts.delayMs);
    }
    if (opts.resetAfter !== undefined && sent >= opts.resetAfter) {
      res.socket?.destroy();
      return;
    }
    if (opts.hangAfter !== undefined) return;
    res.end();
  };
}

export const hang: Behaviour = () => {};

export const resetNow: Behaviour = (_req, res) => {
  res.socket?.destroy();
};

// ---- canned answers ----

function chatChunks(body: Record<string, unknown>): Array<string | Record<string, unknown>> {
  const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: body.model };
  const includeUsage =
    (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const chunks: Array<string | Record<string, unknown>> = [
    {
      ...base,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
      ...(includeUsage ? { usage: null } : {}),
    },
    ...CANNED.text.map((t) => ({
      ...base,
      choices: [{ index: 0, delta: { content: t }, finish_reason: null }],
      ...(includeUsage ? { usage: null } : {}),
    })),
    {
      ...base,
      choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
      ...(includeUsage ? { usage: null } : {}),
    },
  ];
  if (includeUsage) chunks.push({ ...base, choices: [], usage: { ...CANNED.chat, total_tokens: 1545 } });
  chunks.push('data: [DONE]\n\n');
  return chunks;
}

export function anthropicEvents(model: unknown, usage: typeof CANNED.messages = CANNED.messages): string[] {
  const ev = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const { output_tokens, ...input } = usage;
  return [
    ev('message_start', {
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        usage: { ...input, output_tokens: 1 },
      },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ...CANNED.text.map((t) =>
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: t } }),
    ),
    ev('content_block_stop', { index: 0 }),
    // Anthropic's message_delta restates the cumulative input counts along with the output.
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: {
        input_tokens: input.input_tokens,
        cache_read_input_tokens: input.cache_read_input_tokens,
        cache_creation_input_tokens: input.cache_creation_input_tokens,
        output_tokens,
      },
    }),
    ev('message_stop', {}),
  ];
}

/** A non-streamed Anthropic message carrying `usage`. */
export function anthropicMessage(model: unknown, usage: typeof CANNED.messages = CANNED.messages) {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: CANNED.text.join('') }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage,
  };
}

/**
 * A Responses API stream as OpenAI sends it: the item and content-part events around the deltas
 * (strict clients such as the AI SDK need the item's `id` and the part's `annotations`), and the
 * usage only in `response.completed`.
 */
export function responsesEvents(model: unknown): string[] {
  const ev = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const response = {
    id: 'resp_1',
    object: 'response',
    created_at: 1,
    model,
    status: 'in_progress',
    output: [],
    usage: null,
  };
  const text = CANNED.text.join('');
  const part = { type: 'output_text', text, annotations: [], logprobs: [] };
  const item = { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [part] };
  let seq = 0;
  return [
    ev('response.created', { response, sequence_number: seq++ }),
    ev('response.in_progress', { response, sequence_number: seq++ }),
    ev('response.output_item.added', {
      output_index: 0,
      item: { ...item, status: 'in_progress', content: [] },
      sequence_number: seq++,
    }),
    ev('response.content_part.added', {
      item_id: 'msg_1',
      output_index: 0,
      content_index: 0,
      part: { ...part, text: '' },
      sequence_number: seq++,
    }),
    ...CANNED.text.map((t) =>
      ev('response.output_text.delta', {
        item_id: 'msg_1',
        output_index: 0,
        content_index: 0,
        delta: t,
        logprobs: [],
        sequence_number: seq++,
      }),
    ),
    ev('response.output_text.done', {
      item_id: 'msg_1',
      output_index: 0,
      content_index: 0,
      text,
      logprobs: [],
      sequence_number: seq++,
    }),
    ev('response.content_part.done', {
      item_id: 'msg_1',
      output_index: 0,
      content_index: 0,
      part,
      sequence_number: seq++,
    }),
    ev('response.output_item.done', { output_index: 0, item, sequence_number: seq++ }),
    ev('response.completed', {
      response: {
        ...response,
        status: 'completed',
        output: [item],
        usage: { ...CANNED.responses, total_tokens: 920, output_tokens_details: { reasoning_tokens: 0 } },
      },
      sequence_number: seq++,
    }),
  ];
}

export const canned: Behaviour = async (req, res) => {
  const body = req.json ?? {};
  const stream = body.stream === true;
  const path = req.url.split('?')[0];
  switch (path) {
    case '/v1/chat/completions':
      if (stream) return sse(chatChunks(body))(req, res);
      return json(200, {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: body.model,
        choices: [
          { index: 0, message: { role: 'assistant', content: CANNED.text.join('') }, finish_reason: 'stop' },
        ],
        usage: { ...CANNED.chat, total_tokens: 1545 },
      })(req, res);
    case '/v1/completions':
      return json(200, {
        id: 'cmpl-1',
        object: 'text_completion',
        created: 1,
        model: body.model,
        choices: [{ index: 0, text: CANNED.text.join(''), finish_reason: 'stop' }],
        usage: { ...CANNED.completions, total_tokens: 57 },
      })(req, res);
    case '/v1/embeddings':
      return json(200, {
        object: 'list',
        data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2, 0.3] }],
        model: body.model,
        usage: { ...CANNED.embeddings, total_tokens: CANNED.embeddings.prompt_tokens },
      })(req, res);
    case '/v1/responses':
      if (stream) return sse(responsesEvents(body.model))(req, res);
      return json(200, {
        id: 'resp_1',
        object: 'response',
        created_at: 1,
        model: body.model,
        status: 'completed',
        output: [
          {
            type: 'message',
            id: 'msg_1',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: CANNED.text.join(''), annotations: [] }],
          },
        ],
        usage: { ...CANNED.responses, total_tokens: 920, output_tokens_details: { reasoning_tokens: 0 } },
      })(req, res);
    case '/v1/messages':
      if (stream) return sse(anthropicEvents(body.model))(req, res);
      return json(200, anthropicMessage(body.model))(req, res);
    case '/v1/messages/count_tokens':
      return json(200, CANNED.countTokens)(req, res);
    default:
      if (path && MEDIA_PATHS.has(path)) return cannedMedia(req, res);
      return json(404, { error: { message: `fake upstream: no route ${path}` } })(req, res);
  }
};

export interface FakeUpstream {
  /** Base URL including /v1, as keys.yaml's base_url. */
  baseUrl: string;
  received: Received[];
  /** Queue a behaviour for the next request (FIFO); when the queue is empty, canned answers. */
  next(b: Behaviour): void;
  /** Drops queued behaviours and what was received. */
  reset(): void;
  /** Requests whose connection closed before their response finished (client went away). */
  abortedAt: number[];
  openSockets(): number;
  /** Resolves when `n` requests have arrived. */
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const received: Received[] = [];
  const queue: Behaviour[] = [];
  const abortedAt: number[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = raw.toString('utf8');
      let parsed: Record<string, unknown> | undefined;
      try {
        parsed = JSON.parse(body) as Record<string, unknown>;
      } catch {
        parsed = undefined;
      }
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        raw,
        json: parsed,
      };
      received.push(r);
      res.on('close', () => {
        if (!res.writableFinished) abortedAt.push(Date.now());
      });
      const behaviour = queue.shift() ?? canned;
      Promise.resolve(behaviour(r, res)).catch(() => res.destroy());
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    received,
    next: (b) => queue.push(b),
    reset() {
      queue.length = 0;
      received.length = 0;
      abortedAt.length = 0;
    },
    abortedAt,
    openSockets: () => sockets.size,
    async waitForRequests(n, timeoutMs = 5_000) {
      const until = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > until) throw new Error(`fake upstream got ${received.length} requests, wanted ${n}`);
        await sleep(5);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
