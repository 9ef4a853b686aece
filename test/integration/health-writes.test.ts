import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/*
 * A full disk: SQLite still answers SELECT 1, but every commit fails with SQLITE_FULL and every
 * request gets 503. /healthz must say what requests see, and turn ok again once space is back.
 */

const key = mintKey();
let upstream: FakeUpstream;
let gw: TestServer;
let full = false;

/** The real SQLite store whose commits fail as on a full disk while `full` is set. */
async function openFillableStore(url: string): Promise<Store> {
  const store = await openStore(url);
  const diskFull = () => new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
  return {
    ...store,
    kind: store.kind,
    reserve: (r) => (full ? Promise.reject(diskFull()) : store.reserve(r)),
    settle: (u, p) => (full ? Promise.reject(diskFull()) : store.settle(u, p)),
    claimOnce: (scope, id, at) => (full ? Promise.reject(diskFull()) : store.claimOnce(scope, id, at)),
    // /healthz's write on a file store, in the write worker (write-health.ts).
    ...(store.probeWrites
      ? {
          probeWrites: (at: number) =>
            full ? Promise.reject(diskFull()) : (store.probeWrites?.(at) ?? Promise.resolve()),
        }
      : {}),
  };
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startTestServer({
    yaml: `version: 1
upstreams:
  fake: { base_url: ${upstream.baseUrl}, api_key: "\${FAKE_KEY}" }
models:
  small: { upstream: fake, input_per_mtok: 1, output_per_mtok: 2, max_output_tokens: 100 }
keys:
  cursor-dev: { hash: ${hashKey(key)}, limits: { daily_usd: 5 } }
`,
    env: { FAKE_KEY: 'k' },
    openStore: openFillableStore,
  });
});
afterAll(async () => {
  full = false;
  await gw.close();
  await upstream.close();
});

const chat = () =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  });

const health = async () => {
  const res = await fetch(`${gw.url}/healthz`);
  return {
    status: res.status,
    body: (await res.json()) as { status: string; store: { ok: boolean; error?: string } },
  };
};

describe('/healthz while the store refuses writes', () => {
  it('says store_unavailable while requests get 503, and ok again once writes work, with the refused request recorded', async () => {
    expect((await health()).status).toBe(200);
    full = true;
    const refused = await chat();
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('store_unavailable');
    const during = await health();
    expect(during.status).toBe(503);
    expect(during.body.status).toBe('store_unavailable');
    expect(during.body.store.ok).toBe(false);
    expect(during.body.store.error).toContain('SQLITE_FULL: database or disk is full');

    full = false;
    // No request needed: health probes with a write of its own.
    expect((await health()).status).toBe(200);
    // The refused request's record, kept in the backlog, is written once space is back.
    await waitFor(async () => {
      const r = await gw.server.deps.store.queryUsage(
        { since: 0, until: Date.now() + 1, by: 'status' },
        'UTC',
      );
      return r.some((x) => x.status === 503);
    }, 10_000);
    const rows = await gw.server.deps.store.queryUsage(
      { since: 0, until: Date.now() + 1, by: 'status' },
      'UTC',
    );
    expect(rows.find((r) => r.status === 503)?.requests).toBe(1);
    expect((await chat()).status).toBe(200);
  });
});
