import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { periodsAt } from '../../src/windows/budget-windows.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/**
 * The insights rollup (PostgreSQL migration 20) keys each row by day, key, model, user-agent and
 * IP, and a btree index row holds at most 2704 bytes. The user-agent is the client's to write (Node
 * takes headers up to 16 KB): a request that sent a longer one was answered, but its usage record
 * failed on every retry (`index row size … exceeds btree version 4 maximum 2704`), waiting in
 * memory as if the database were down, and its reservation stayed held until the sweep charged it
 * whole.
 */
const key = mintKey();
let db: TestDatabase;
let upstream: FakeUpstream;
let gw: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  upstream = await startFakeUpstream();
  gw = await startTestServer({
    yaml: `version: 1
upstreams:
  openai:
    base_url: ${upstream.baseUrl}
    api_key: \${OPENAI_API_KEY}
models:
  gpt-4o:
    upstream: openai
keys:
  cursor-dev:
    hash: ${hashKey(key)}
    limits: { daily_usd: 50 }
`,
    store: db.url,
    env: { OPENAI_API_KEY: 'sk-upstream-secret' },
  });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await db?.drop();
});

it('records and charges a request whose user-agent is longer than an index row holds, and releases its hold', async () => {
  // Random bytes, so that PostgreSQL cannot compress the index row under its limit.
  const agent = `tool/1.0 ${randomBytes(6000).toString('base64')}`;
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': agent },
    body: JSON.stringify({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status).toBe(200);
  const id = res.headers.get('x-tollgate-request-id');
  const recordOf = async () =>
    (await gw.server.deps.store.recentUsage('cursor-dev', 5)).find((r) => r.requestId === id);
  await waitFor(async () => (await recordOf()) !== undefined, 5_000);
  const record = await recordOf();
  expect(record?.costUsd).toBeGreaterThan(0);
  expect(agent.startsWith(record?.userAgent ?? '-')).toBe(true);
  const daily = periodsAt(record?.ts ?? 0, 'UTC').daily;
  const spend = await gw.server.deps.store.getSpend('cursor-dev', [daily]);
  expect(spend[daily]).toMatchObject({ spentUsd: record?.costUsd, reservedUsd: 0 });
});
