import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { sqliteFileOf } from '../../src/store/open.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/*
 * A full disk: SQLite still answers SELECT 1, but every commit fails with SQLITE_FULL and every
 * request gets 503. /healthz must say what requests see, and turn ok again once space is back.
 */

const key = mintKey();
let full = false;

/**
 * The real SQLite store, with the given writer, whose commits fail as on a full disk while `full`
 * is set.
 */
function fillableStore(writer: { cpus: number }) {
  return async (url: string): Promise<Store> => {
    const file = sqliteFileOf(url);
    if (!file) throw new Error(`not a SQLite file: ${url}`);
    mkdirSync(dirname(file), { recursive: true });
    const store = createSqliteStore(file, { writer });
    await store.init();
    const diskFull = () => new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
    return {
      ...store,
      kind: store.kind,
      reserve: (r) => (full ? Promise.reject(diskFull()) : store.reserve(r)),
      settle: (u, p) => (full ? Promise.reject(diskFull()) : store.settle(u, p)),
      claimOnce: (scope, id, at) => (full ? Promise.reject(diskFull()) : store.claimOnce(scope, id, at)),
      // /healthz's write through the connection that reserves and settles (write-health.ts).
      ...(store.probeWrites
        ? {
            probeWrites: (at: number) =>
              full ? Promise.reject(diskFull()) : (store.probeWrites?.(at) ?? Promise.resolve()),
          }
        : {}),
    };
  };
}

const chat = (gw: TestServer) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  });

const health = async (gw: TestServer) => {
  const res = await fetch(`${gw.url}/healthz`);
  return {
    status: res.status,
    body: (await res.json()) as { status: string; store: { ok: boolean; error?: string } },
  };
};

/* Both writers: the write worker (more than one CPU) and the event loop's own connection (one). */
describe.each([
  ['the write worker', { cpus: 2 }],
  ['one CPU, on the event loop', { cpus: 1 }],
])('/healthz while the store refuses writes (%s)', (_name, writer) => {
  let upstream: FakeUpstream;
  let gw: TestServer;

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
      openStore: fillableStore(writer),
    });
  });
  afterAll(async () => {
    full = false;
    await gw.close();
    await upstream.close();
  });

  it('says store_unavailable while requests get 503, and ok again once writes work, with the refused request recorded', async () => {
    expect((await health(gw)).status).toBe(200);
    full = true;
    const refused = await chat(gw);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('store_unavailable');
    const during = await health(gw);
    expect(during.status).toBe(503);
    expect(during.body.status).toBe('store_unavailable');
    expect(during.body.store.ok).toBe(false);
    expect(during.body.store.error).toContain('SQLITE_FULL: database or disk is full');

    full = false;
    // No request needed: health probes with a write of its own.
    expect((await health(gw)).status).toBe(200);
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
    expect((await chat(gw)).status).toBe(200);
  });
});
