import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { SlotRequest, Store } from '../../src/store/types.js';
import {
  createTestDatabase,
  startTcpProxy,
  type TcpProxy,
  type TestDatabase,
  viaPort,
} from '../helpers/pg.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * A slot call the gateway gave up on (it answered store_unavailable at the statement timeout)
 * whose statement still committed: its answer was late, not lost. The request was refused and
 * never ends, so nothing else would free its max_parallel slot before its lease (the upstream's
 * timeout and five minutes more): the store frees it once the late answer arrives.
 */
describe('a max_parallel slot granted after its caller gave up', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let store: Store;

  beforeEach(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    store = createPostgresStore(viaPort(db.url, proxy.port), { poolSize: 4, statementTimeoutMs: 1000 });
    await store.init();
  });
  afterEach(async () => {
    proxy.answer();
    await store.close();
    await proxy.close();
    await db.drop();
  });

  const slotRows = async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ n: string }>("SELECT count(*) AS n FROM inflight WHERE key = 'k'");
      return Number(rows[0]?.n);
    } finally {
      await c.end();
    }
  };

  it('is freed when its late answer arrives, so the key is not refused until the lease ends', async () => {
    const now = Date.now();
    const slot = (id: string): SlotRequest => ({
      id,
      key: 'k',
      maxParallel: 1,
      tpm: 10_000,
      tokens: 500,
      now,
      leaseUntil: now + 600_000,
    });
    proxy.hold();
    await expect(store.acquireSlot(slot('late'))).rejects.toMatchObject({ code: 'store_unavailable' });
    // The database holds the slot all the same: only its answer is late.
    expect(await slotRows()).toBe(1);
    proxy.answer();
    await waitFor(async () => (await slotRows()) === 0, 3_000).catch(() => undefined);
    expect(await store.acquireSlot(slot('next'))).toMatchObject({ ok: true });
  });
});
