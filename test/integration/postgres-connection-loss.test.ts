import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { resolvePostgresOptions } from '../../src/store/postgres/options.js';
import { createPool, inTransaction } from '../../src/store/postgres/pool.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import {
  createTestDatabase,
  startTcpProxy,
  type TcpProxy,
  type TestDatabase,
  viaPort,
} from '../helpers/pg.js';

/**
 * The machine's PostgreSQL is shared with other tests and must keep running, so the store talks
 * to it through a TCP proxy that the test cuts and restores.
 */
describe('postgres store when the database goes away', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let store: Store;
  const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    store = createPostgresStore(viaPort(db.url, proxy.port), { poolSize: 3, statementTimeoutMs: 1000 });
    await store.init();
  });
  afterAll(async () => {
    await store.close();
    await proxy.close();
    await db.drop();
  });

  async function rejectsPromptly(p: Promise<unknown>): Promise<void> {
    const started = performance.now();
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('store_unavailable');
    // Bounded by the 2 s connect timeout or the query timeout, never a hang.
    expect(performance.now() - started).toBeLessThan(5000);
  }

  it('rejects every kind of call while the connection is cut and works again after, without a new store', async () => {
    let notified = 0;
    store.onDisabledChange(() => {
      notified++;
    });
    await store.ping();
    await store.acquireSlot({ id: 'a', key: 'k', rpm: 5, now: T0, leaseUntil: T0 + 1000 });

    proxy.cut();
    await rejectsPromptly(store.ping());
    await rejectsPromptly(
      store.reserve({
        id: 'r',
        key: 'k',
        amountUsd: 1,
        windows: [],
        periods: ['d:2026-11-26'],
        leaseUntil: T0,
      }),
    );
    await rejectsPromptly(store.acquireSlot({ id: 'b', key: 'k', rpm: 5, now: T0, leaseUntil: T0 + 1000 }));
    await rejectsPromptly(store.listDisabled());
    await rejectsPromptly(store.claimOnce('s', 'i', T0));

    proxy.restore();
    await store.ping();
    expect(await store.claimOnce('s', 'i', T0)).toBe(true);

    // The LISTEN connection came back too: a change made by another replica is heard again.
    const other = createPostgresStore(db.url);
    try {
      const before = notified;
      const started = performance.now();
      let ok = false;
      // Retry the change until heard: the listener reconnects with a backoff of up to 2 s.
      for (let i = 0; i < 20 && !ok; i++) {
        await other.setDisabled({ key: `k${i}`, reason: 'r', by: 'u', source: 'admin_api', at: T0 });
        await new Promise((r) => setTimeout(r, 250));
        ok = notified > before;
      }
      expect(ok).toBe(true);
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await other.close();
    }
  });

  it('survives a connection lost between two queries of a transaction, and the pool serves again', async () => {
    // Between queries a checked-out client has no listener of pg-pool's: without ours, the
    // 'error' event would be unhandled and end the process (vitest reports it as a failure).
    const pool = createPool(resolvePostgresOptions(viaPort(db.url, proxy.port), {}, {}), silentLogger());
    try {
      const err = await inTransaction(pool, async (c) => {
        await c.query('SELECT 1');
        proxy.cut();
        await new Promise((r) => setTimeout(r, 200));
        await c.query('SELECT 1');
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as GatewayError).code).toBe('store_unavailable');
      proxy.restore();
      const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
      expect(rows[0]?.one).toBe(1);
    } finally {
      proxy.restore();
      await pool.end();
    }
  });

  it('rejects instead of hanging when the database accepts connections but never answers', async () => {
    // A fresh store whose pool has no open connection: the connect timeout must fire.
    const blackhole = await startBlackhole();
    const s = createPostgresStore(`postgres://postgres@127.0.0.1:${blackhole.port}/x`, {
      statementTimeoutMs: 500,
    });
    try {
      await rejectsPromptly(s.ping());
    } finally {
      await s.close();
      await blackhole.close();
    }
  });
});

async function startBlackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const net = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as import('node:net').AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
