import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { periodsAt } from '../../src/windows/budget-windows.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/**
 * PostgreSQL refuses a NUL character in text (22021), SQLite does not. A client chooses its
 * request's `model` (JSON's "\u0000" is a NUL) and an admin types a disable reason; those strings
 * reach the store. A usage record carrying one was refused on every retry: the usage writer kept
 * it in memory as if the database were down, the request's reservation stayed held until the
 * sweep charged it whole, and the record was only ever logged at exit. A disable with one in its
 * reason was answered 503 and left the key enabled.
 */
const key = mintKey();
const ADMIN_TOKEN = 'a'.repeat(40);
let db: TestDatabase;
let upstream: FakeUpstream;
let gw: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  upstream = await startFakeUpstream();
  gw = await startTestServer({
    yaml: `version: 1
upstreams:
  anthropic:
    base_url: ${upstream.baseUrl}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
    provider: anthropic
models:
  "claude-*":
    upstream: anthropic
keys:
  claude-code:
    hash: ${hashKey(key)}
    limits: { daily_usd: 50 }
`,
    store: db.url,
    env: { ANTHROPIC_API_KEY: 'sk-ant-upstream-secret', TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN },
  });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await db?.drop();
});

const messages = (model: string) =>
  fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
  });

const recordOf = async (requestId: string | null) =>
  (await gw.server.deps.store.recentUsage('claude-code', 50)).find((r) => r.requestId === requestId);

describe('a NUL character in a string bound for the PostgreSQL store', () => {
  it('records and charges a served request whose model name carries one, and releases its hold', async () => {
    // The catalog prices 'claude-sonnet-4-5…' by its prefix, so the glob entry serves it.
    const res = await messages('claude-sonnet-4-5\u0000x');
    expect(res.status).toBe(200);
    const id = res.headers.get('x-tollgate-request-id');
    await waitFor(async () => (await recordOf(id)) !== undefined, 5_000);
    const record = await recordOf(id);
    expect(record?.costUsd).toBeGreaterThan(0);
    expect(record?.requestedModel).not.toContain('\u0000');
    const daily = periodsAt(record?.ts ?? 0, 'UTC').daily;
    const spend = await gw.server.deps.store.getSpend('claude-code', [daily]);
    expect(spend[daily]).toMatchObject({ spentUsd: record?.costUsd, reservedUsd: 0 });
  });

  it('records a request refused for an unknown model that carries one', async () => {
    const res = await messages('nope\u0000');
    expect(res.status).toBe(404);
    const id = res.headers.get('x-tollgate-request-id');
    await waitFor(async () => (await recordOf(id)) !== undefined, 5_000);
    expect((await recordOf(id))?.errorCode).toBe('model_not_found');
  });

  it('disables a key through the admin API when the reason carries one', async () => {
    const res = await fetch(`${gw.url}/admin/keys/claude-code/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'leaked\u0000 in a gist' }),
    });
    expect(res.status).toBe(200);
    await waitFor(async () => (await messages('claude-sonnet-4-5')).status === 401, 5_000);
  });
});
