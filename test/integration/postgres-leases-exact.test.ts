import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createLeaseManager, type LeaseManager } from '../../src/store/postgres/leases/lease-manager.js';
import type { Pool } from '../../src/store/postgres/pool.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { BudgetWindow, Store } from '../../src/store/types.js';
import {
  createTestDatabase,
  startTcpProxy,
  type TcpProxy,
  type TestDatabase,
  viaPort,
} from '../helpers/pg.js';
import { waitFor } from '../helpers/server-harness.js';
import { usageRecord } from '../helpers/usage-record.js';

/**
 * Budget leases charge every settled cost exactly once, and nothing that was not spent
 * (docs/postgres.md#budget-leases), in the cases where the replica's own count of a lease and the
 * database's could part:
 * - a settle its lease stopped waiting for (15 min: the database was away) that lands later,
 *   after the lease was closed and swept: it draws on the sweep's charge, not charged again;
 * - costs above their holds (the provider billed more than the request's maximum) that drain a
 *   lease past what it held, followed by a top-up: what the lease returns at its close leaves
 *   nothing in the row for the sweep to charge a second time;
 * - a first grant whose round the replica saw fail (its connection lost while the statement
 *   waited on a lock) that commits later: the replica's returns look for it until it can no
 *   longer land, and give it back whole.
 */
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const DAY = 'd:2026-11-26';
const GROUP_DAY = '@team/d:2026-11-26';
const periods = [GROUP_DAY, DAY, 'm:2026-11'];
const windows: BudgetWindow[] = [
  { period: DAY, limitUsd: 10 },
  { period: GROUP_DAY, limitUsd: 20 },
];

const usage = (id: string, costUsd: number) => usageRecord({ requestId: id, costUsd, ts: T0 });

const request = (id: string, now: number) => ({
  id,
  key: 'alpha',
  amountUsd: 0.01,
  windows,
  periods,
  leaseUntil: now + 600_000,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('budget leases charge each settled cost once', () => {
  let db: TestDatabase;
  let sweeper: Store;
  let real: pg.Pool;
  let now = T0;
  const closers: (() => Promise<unknown>)[] = [];

  beforeEach(async () => {
    now = T0;
    db = await createTestDatabase();
    sweeper = createPostgresStore(db.url, { poolSize: 2, clock: () => now, leaseHorizonMs: 0 });
    await sweeper.init();
    real = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
    await real.end();
    await sweeper.close();
    await db.drop();
  });

  const money = async () => {
    const spend = await sweeper.getSpend('alpha', [DAY, GROUP_DAY]);
    const rows = await real.query<{ c: number; d: number }>(
      `SELECT (SELECT coalesce(sum(cost_usd), 0)::float8 FROM usage) AS c,
              (SELECT coalesce(sum(cost_usd), 0)::float8 FROM usage_daily) AS d`,
    );
    return {
      spent: spend[DAY]!.spentUsd,
      groupSpent: spend[GROUP_DAY]!.spentUsd,
      reserved: spend[DAY]!.reservedUsd,
      usage: rows.rows[0]!.c,
      daily: rows.rows[0]!.d,
    };
  };
  const exactly = (usd: number) => ({
    spent: expect.closeTo(usd, 12),
    groupSpent: expect.closeTo(usd, 12),
    reserved: 0,
    usage: expect.closeTo(usd, 12),
    daily: expect.closeTo(usd, 12),
  });

  it('charges a settle its lease gave up on (the database was away 15 min) once when it lands after the sweep', async () => {
    const target = new URL(db.url);
    const proxy: TcpProxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    closers.push(() => proxy.close());
    const store = createPostgresStore(viaPort(db.url, proxy.port), {
      poolSize: 4,
      statementTimeoutMs: 1_000,
      clock: () => now,
    });
    closers.push(() => store.close());
    await store.init();

    // A busy key: its requests end up served from a lease of this replica.
    let charged = 0;
    for (let i = 0; i < 40 && !(store.leaseHoldings?.().leases ?? 0); i++) {
      const id = `warm-${i}`;
      expect((await store.reserve(request(id, now))).ok).toBe(true);
      await store.settle(usage(id, 0.001), periods);
      charged += 0.001;
      await sleep(20);
    }
    expect(store.leaseHoldings?.().leases).toBe(1);
    expect((await store.reserve(request('late', now))).ok).toBe(true);
    expect(store.leaseHoldings?.().heldUsd).toBeCloseTo(0.01, 12);

    // The database goes away while the request settles, and stays away past the lease's wait
    // for its settle (15 min): the usage writer keeps the record and retries.
    proxy.cut();
    await expect(store.settle(usage('late', 0.004), periods)).rejects.toThrow();
    now += 16 * 60_000;
    // Rounds (every second) fail meanwhile; the first one planned after the jump gives up.
    await sleep(2_500);
    // Another replica's sweep charges the expired lease whole.
    await sweeper.recoverReservations(now);
    expect((await money()).spent).toBeGreaterThan(charged + 0.01 - 1e-12);

    // The database is back: the retried settle lands, the replica returns what the lease had free.
    proxy.restore();
    await waitFor(
      () =>
        store.settle(usage('late', 0.004), periods).then(
          () => true,
          () => false,
        ),
      10_000,
    );
    charged += 0.004;
    await store.close();
    await sweeper.recoverReservations(now + 3_600_000);
    expect(await money()).toEqual(exactly(charged));
  });

  it('leaves nothing for the sweep to charge again after costs above their holds drained a lease that was then topped up', async () => {
    const m: LeaseManager = createLeaseManager({
      pool: real as unknown as Pool,
      clock: () => now,
      log: silentLogger(),
      maxInFlight: 1,
      // Rounds only when a request found no lease, at least 1.5 s apart: the settles below all
      // land before the round that tops the lease up (as when the top-up waits for room).
      options: { tickMs: 3_600_000, minGapMs: 1_500 },
    });
    closers.push(() => m.close());
    let seq = 0;
    // Requests that find no lease: the demand that makes the manager ask for one.
    for (let i = 0; i < 8; i++) m.take(request(`warm-${i}`, now));
    await waitFor(() => m.holdings().leases > 0, 5_000);
    const granted = m.holdings().leasedUsd;
    expect(granted).toBeGreaterThanOrEqual(0.04);

    // Every cent of the lease is taken, and each request costs half again its hold.
    const ids: string[] = [];
    for (;;) {
      const id = `q${seq++}`;
      if (!m.take(request(id, now))) break;
      ids.push(id);
    }
    expect(ids.length).toBeGreaterThanOrEqual(4);
    await Promise.all(ids.map((id) => m.settle(usage(id, 0.015))!));
    let charged = ids.length * 0.015;
    // The key stays busy: the next round tops the lease up (a request it serves costs its hold).
    const served: string[] = [];
    await waitFor(() => {
      const id = `probe-${seq++}`;
      if (m.take(request(id, now))) served.push(id);
      return m.holdings().leasedUsd - m.holdings().heldUsd > 0.01;
    }, 5_000);
    await Promise.all(served.map((id) => m.settle(usage(id, 0.01))!));
    charged += served.length * 0.01;

    // The replica closes (every lease goes back), and much later a sweep runs.
    await m.close();
    await sweeper.recoverReservations(now + 3_600_000);
    expect(await money()).toEqual(exactly(charged));
  });

  it('gives back a first grant that commits after its replica saw the round fail, instead of charging it', async () => {
    // The key's spend rows exist; another transaction holds them, so a round granting a lease of
    // the key waits on their lock.
    expect((await sweeper.reserve(request('seed', now))).ok).toBe(true);
    await sweeper.settle(usage('seed', 0), periods);
    const locker = await real.connect();
    closers.push(async () => locker.release());
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM spend WHERE key IN ('alpha', '@team') FOR UPDATE`);
    // The first round's connection is lost while its statement waits: the replica sees it fail,
    // the database goes on and commits it once the lock is free.
    let late: Promise<unknown> | null = null;
    // Connections of its own: the rounds after the lost one are not queued behind it.
    const own = new pg.Pool({ connectionString: db.url, max: 4 });
    closers.push(() => own.end());
    const pool = {
      query: async (cfg: pg.QueryConfig, values?: unknown[]) => {
        if (late || typeof cfg !== 'object' || cfg.name !== 'tollgate_lease_round')
          return own.query(cfg, values);
        late = own.query(cfg, values);
        await sleep(50);
        // The burst is over meanwhile: the next rounds only return the lease.
        now += 5_000;
        throw new Error('connection terminated unexpectedly');
      },
    } as unknown as Pool;
    const m = createLeaseManager({
      pool,
      clock: () => now,
      log: silentLogger(),
      maxInFlight: 1,
      options: { tickMs: 20, minGapMs: 0 },
    });
    closers.push(() => m.close());
    for (let i = 0; i < 8; i++) m.take(request(`warm-${i}`, now));
    await waitFor(() => late !== null, 5_000);
    // Rounds return the lease while the grant has not landed.
    await sleep(500);
    await locker.query('COMMIT');
    await late;
    await waitFor(async () => (await money()).reserved === 0, 5_000);
    await m.close();
    await sweeper.recoverReservations(now + 3_600_000);
    expect(await money()).toEqual(exactly(0));
  });
});
