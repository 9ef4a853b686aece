import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import {
  createTestDatabase,
  startTcpProxy,
  type TcpProxy,
  type TestDatabase,
  viaPort,
} from '../helpers/pg.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/**
 * The gateway on PostgreSQL when the database goes away: 503 store_unavailable (fail closed),
 * /healthz 503, no crash, and service again once it is back, without a restart. The machine's
 * PostgreSQL is shared, so the loss is a cut TCP proxy between the gateway and the server.
 */
const key = mintKey();
let db: TestDatabase;
let proxy: TcpProxy;
let upstream: Server;
let upstreamCalls = 0;
let gw: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  upstream = createServer((req, res) => {
    upstreamCalls++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'x',
          object: 'chat.completion',
          model: 'small',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }),
      );
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startTestServer({
    yaml: `version: 1
upstreams:
  fake:
    base_url: ${upstreamUrl}/v1
    api_key: \${FAKE_KEY}
models:
  small:
    upstream: fake
    input_per_mtok: 1
    output_per_mtok: 2
    max_output_tokens: 100
keys:
  cursor-dev:
    hash: ${hashKey(key)}
    limits: { daily_usd: 5, rpm: 1000, max_parallel: 10 }
`,
    // A short statement timeout keeps the wait for a dead connection well under a client's patience.
    store: `${viaPort(db.url, proxy.port)}?statement_timeout_ms=1000&pool_size=4`,
    env: { FAKE_KEY: 'sk-upstream' },
  });
});

afterAll(async () => {
  await gw?.close();
  await proxy?.close();
  await new Promise((r) => upstream?.close(r));
  await db?.drop();
});

const chat = () =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  });

describe('the gateway on PostgreSQL when the database is lost', () => {
  it('fails closed with 503 store_unavailable while cut and serves again after, without a restart', async () => {
    expect((await chat()).status).toBe(200);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);

    proxy.cut();
    const callsBefore = upstreamCalls;
    const res = await chat();
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('store_unavailable');
    // Fail closed: nothing reached the upstream unmetered.
    expect(upstreamCalls).toBe(callsBefore);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(503);

    proxy.restore();
    await waitFor(async () => (await fetch(`${gw.url}/healthz`)).status === 200, 5000);
    const again = await chat();
    expect(again.status).toBe(200);
    await again.arrayBuffer();
  });
  it('answers 503 within the statement timeout when the database drops packets instead of refusing', async () => {
    expect((await chat()).status).toBe(200);
    proxy.blackhole();
    try {
      // Twice: once on a pooled connection that stops answering, once on a new one that never connects.
      for (let i = 0; i < 2; i++) {
        const started = performance.now();
        const res = await chat();
        const waited = performance.now() - started;
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('store_unavailable');
        // A correctness bound, not a speed goal: the configured 1,000 ms, with room for scheduling.
        expect(waited).toBeLessThan(2 * 1000);
      }
    } finally {
      proxy.restore();
    }
    await waitFor(async () => (await fetch(`${gw.url}/healthz`)).status === 200, 5000);
  });

  it('writes the records of requests refused during the outage once it is back, and stops promptly', async () => {
    proxy.cut();
    const refused = await Promise.all([chat(), chat()]);
    const ids = refused.map((r) => r.headers.get('x-tollgate-request-id'));
    expect(refused.map((r) => r.status)).toEqual([503, 503]);
    proxy.restore();
    // Stop right away, before the writer's next background tick: close() retries the backlog now.
    const started = Date.now();
    await gw.server.close();
    expect(Date.now() - started).toBeLessThan(15_000);

    const { createPostgresStore } = await import('../../src/store/postgres.js');
    const store = createPostgresStore(db.url);
    await store.init();
    const rows = await store.queryUsage({ since: 0, until: Date.now() + 1, by: 'status' }, 'UTC');
    expect(rows.find((r) => r.status === 503)?.requests).toBeGreaterThanOrEqual(3);
    await store.close();
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
  });
});
