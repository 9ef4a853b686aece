import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { writeTempRename } from '../helpers/config-replace.js';
import { type FakeUpstream, json, startFakeUpstream } from '../helpers/fake-upstream.js';
import { standardYaml } from '../helpers/gateway-harness.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/**
 * `GET /` / `HEAD /` and CORS on `/v1` (server.cors_origins), on the real server: real preflights
 * and requests carrying an Origin, as a browser sends them, and a hot reload of the origin list.
 */

const PAGE = 'https://chat.example.com';
const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

let upstream: FakeUpstream;
let gw: TestServer;
const keys: Record<string, string> = {};

function yamlWith(origins: string[] | undefined): string {
  const base = standardYaml(upstream.baseUrl);
  const text = origins
    ? base.replace('server:\n', `server:\n  cors_origins: ${JSON.stringify(origins)}\n`)
    : base;
  // Mint the keys once, so every version of the file has the same keys.
  return text.replace(/\{\{hash:([a-z0-9._-]+)\}\}/g, (_m, name: string) => {
    keys[name] ??= mintKey();
    return hashKey(keys[name]);
  });
}

const env = { OPENAI_API_KEY: 'sk-upstream-openai-secret', ANTHROPIC_API_KEY: 'sk-ant-upstream-secret' };

const preflight = (origin: string, requestHeaders: string, path = '/v1/chat/completions') =>
  fetch(`${gw.url}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': requestHeaders,
    },
  });

const chat = (origin: string | undefined, key = keys['cursor-dev'] as string) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      ...(origin ? { origin } : {}),
    },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });

async function requestsRecorded(): Promise<number> {
  const rows = await gw.server.deps.store.queryUsage(
    { since: 0, until: Date.now() + 60_000, by: 'status' },
    'UTC',
  );
  return rows.reduce((n, r) => n + r.requests, 0);
}

const corsHeaders = (res: Response) => [...res.headers.keys()].filter((h) => h.startsWith('access-control-'));

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startTestServer({ yaml: yamlWith([PAGE, 'http://localhost:3000']), env });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

beforeEach(() => upstream.reset());

describe('GET / and HEAD /', () => {
  it('answers GET / without a key with the name, the version and links to /healthz and /dashboard', async () => {
    const res = await fetch(`${gw.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      name: 'tollgate',
      version,
      links: { healthz: '/healthz', dashboard: '/dashboard', api: '/v1' },
    });
  });

  it('answers HEAD / with 200 and no body, the way Claude Code probes its base URL', async () => {
    const res = await fetch(`${gw.url}/`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(upstream.received).toHaveLength(0);
  });

  it('shows a browser an HTML page linking /healthz and /dashboard', async () => {
    const res = await fetch(`${gw.url}/`, {
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain(`tollgate ${version}`);
    expect(html).toContain('href="/healthz"');
    expect(html).toContain('href="/dashboard"');
  });

  it('still answers any other path outside /v1 with a JSON 404', async () => {
    const res = await fetch(`${gw.url}/api/event_logging/batch`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});

describe('CORS on /v1', () => {
  it('answers a preflight from a listed origin without a key, echoing only the allowed request headers', async () => {
    const before = await requestsRecorded();
    const res = await preflight(
      PAGE,
      'Authorization, Content-Type, X-Stainless-OS, x-stainless-retry-count, anthropic-dangerous-direct-browser-access, x-evil-header',
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
    expect(res.headers.get('access-control-allow-headers')).toBe(
      'authorization, content-type, x-stainless-os, x-stainless-retry-count, anthropic-dangerous-direct-browser-access',
    );
    expect(res.headers.get('vary')).toMatch(/Origin/);
    expect(upstream.received).toHaveLength(0);
    // A preflight is not a request of any key: no usage record.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await requestsRecorded()).toBe(before);
  });

  it('lets a listed origin read the answer and the headers a client backs off by', async () => {
    const res = await chat(PAGE);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').split(', ');
    for (const h of [
      'retry-after',
      'x-should-retry',
      'x-request-id',
      'x-ratelimit-remaining-requests',
      'x-ratelimit-reset-requests',
      'x-tollgate-key',
      'x-tollgate-request-id',
      'x-tollgate-output-capped',
      'x-tollgate-tools-removed',
    ])
      expect(exposed).toContain(h);
    expect(res.headers.get('x-tollgate-key')).toBe('cursor-dev');
  });

  it('puts the CORS headers on a refusal too, so the page can show the error', async () => {
    const res = await chat(PAGE, 'tgk_not-a-key');
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
  });

  it('gives an origin that is not listed no CORS header, even when the upstream sends its own', async () => {
    upstream.next(
      json(
        200,
        {
          id: 'c',
          object: 'chat.completion',
          model: 'gpt-4o-mini',
          choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        },
        { 'access-control-allow-origin': '*' },
      ),
    );
    const res = await chat('https://evil.example');
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual([]);
    const pre = await preflight('https://evil.example', 'authorization');
    expect(corsHeaders(pre)).toEqual([]);
    expect(pre.status).toBe(404);
  });

  it('applies a hot-reloaded cors_origins: "*" opens it to any origin, removing it closes it', async () => {
    writeTempRename(gw.file, yamlWith(['*']));
    await waitFor(async () => (await preflight('https://other.example', 'authorization')).status === 204);
    const open = await preflight('https://other.example', 'authorization, x-api-key, anthropic-version');
    expect(open.headers.get('access-control-allow-origin')).toBe('*');
    expect(open.headers.get('access-control-allow-headers')).toBe(
      'authorization, x-api-key, anthropic-version',
    );
    expect((await chat('https://other.example')).headers.get('access-control-allow-origin')).toBe('*');

    writeTempRename(gw.file, yamlWith(undefined));
    await waitFor(async () => corsHeaders(await preflight(PAGE, 'authorization')).length === 0);
    expect(corsHeaders(await chat(PAGE))).toEqual([]);
  });
});
