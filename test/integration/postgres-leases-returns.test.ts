import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createLeaseManager, type LeaseManager } from '../../src/store/postgres/leases/lease-manager.js';
import type { Pool } from '../../src/store/postgres/pool.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { BudgetWindow, Store, UsageRecord } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * Budget leases of a replica that stays alive while its rounds fail, its answers are lost or the
 * database sweeps its leases (docs/postgres.md#budget-leases, migration 14): what it returns is
 * never charged as spend, and a cost settled after its lease was swept is charged once. Spend
 * equals the settled costs exactly, and so does the sum of the usage records.
 */
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const DAY = 'd:2026-11-26';
const GROUP_DAY = '@team/d:2026-11-26';
const periods = [GROUP_DAY, DAY, 'm:2026-11'];
const windows: BudgetWindow[] = [
  { period: DAY, limitUsd: 10 },
  { period: GROUP_DAY, limitUsd: 20 },
];
const LATER = T0 + 3_600_000;

function usage(id: string, costUsd: number): UsageRecord {
  return {
    requestId: id,
    ts: T0,
    day: '2026-11-26',
    key: 'alpha',
    model: 'm',
    upstream: 'u',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 10,
    outputTokens: 10,
    cachedTokens: 0,
    costUsd,
    latencyMs: 1,
    stream: false,
    userAgent: null,
    ip: null,
    configRevision: 'r',
    usageSource: 'provider',
  };
}

const request = (id: string) => ({
  id,
  key: 'alpha',
  amountUsd: 0.01,
  windows,
  periods,
  leaseUntil: T0 + 600_000,
});

/** Rounds pass, fail before reaching the database, or commit and lose their answer. */
type RoundMode = 'ok' | 'failed' | 'lost';

function flakyPool(real: pg.Pool) {
  const state = { mode: 'ok' as RoundMode, hit: 0 };
  const pool = {
    query: async (cfg: pg.QueryConfig, values?: unknown[]) => {
      const round = typeof cfg === 'object' && cfg.name === 'tollgate_lease_round';
      if (!round || state.mode === 'ok') return real.query(cfg, values);
      // Counted once the round has run (in 'lost' mode it commits first): a test that waits for a
      // hit then reads the database sees what the round did.
      if (state.mode === 'lost') await real.query(cfg, values);
      state.hit++;
      throw new Error('connection terminated unexpectedly');
    },
  };
  return { pool: pool as unknown as Pool, state };
}

describe('budget leases of a replica whose rounds fail or whose leases were swept', () => {
  let db: TestDatabase;
  let store: Store;
  let real: pg.Pool;
  let manager: LeaseManager | null = null;
  let now = T0;

  beforeEach(async () => {
    db = await createTestDatabase();
    store = createPostgresStore(db.url, { poolSize: 2, clock: () => T0 });
    await store.init();
    real = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterEach(async () => {
    await manager?.close().catch(() => {});
    manager = null;
    now = T0;
    await real.end();
    await store.close();
    await db.drop();
  });

  const start = (pool: Pool) => {
    manager = createLeaseManager({
      pool,
      clock: () => now,
      log: silentLogger(),
      maxInFlight: 1,
      options: { tickMs: 20, minGapMs: 0 },
    });
    return manager;
  };
  /** Requests that find no lease: the demand that makes the manager ask for one. */
  const warm = (m: LeaseManager) => {
    for (let i = 0; i < 8; i++) m.take(request(`warm-${i}-${Math.random()}`));
  };
  const money = async () => {
    const spend = (await store.getSpend('alpha', [DAY, GROUP_DAY]))[DAY]!;
    const rows = await real.query<{ c: number; d: number }>(
      `SELECT (SELECT coalesce(sum(cost_usd), 0)::float8 FROM usage) AS c,
              (SELECT coalesce(sum(cost_usd), 0)::float8 FROM usage_daily) AS d`,
    );
    return { ...spend, usage: rows.rows[0]!.c, daily: rows.rows[0]!.d };
  };

  it('does not charge a disabled key’s lease as spend when the round returning it failed', async () => {
    const { pool, state } = flakyPool(real);
    const m = start(pool);
    warm(m);
    await waitFor(() => m.holdings().leases > 0, 5_000);
    expect(m.take(request('q'))).toBe(true);
    await m.settle(usage('q', 0.004));
    state.mode = 'failed';
    m.revoke(() => true);
    await waitFor(() => state.hit > 0, 5_000);
    // The database is back: the next round returns what the failed one could not.
    state.mode = 'ok';
    await waitFor(async () => (await money()).reservedUsd === 0, 5_000);
    await store.recoverReservations(LATER);
    expect(await money()).toEqual({
      spentUsd: expect.closeTo(0.004, 12),
      reservedUsd: 0,
      usage: expect.closeTo(0.004, 12),
      daily: expect.closeTo(0.004, 12),
    });
  });

  it('gives back a first grant whose answer was lost instead of charging it when it expires', async () => {
    const { pool, state } = flakyPool(real);
    state.mode = 'lost';
    const m = start(pool);
    warm(m);
    await waitFor(() => state.hit > 0, 5_000);
    expect((await money()).reservedUsd).toBeGreaterThan(0);
    // The burst is over (nothing asks for a new lease) and the database is back.
    now += 5_000;
    state.mode = 'ok';
    await waitFor(async () => (await money()).reservedUsd === 0, 5_000);
    await store.recoverReservations(LATER);
    expect(await money()).toEqual({ spentUsd: 0, reservedUsd: 0, usage: 0, daily: 0 });
  });

  it('charges a settle landing after its lease was swept once, and returns the rest of the lease', async () => {
    const { pool, state } = flakyPool(real);
    const m = start(pool);
    warm(m);
    await waitFor(() => m.holdings().leases > 0, 5_000);
    expect(m.take(request('late'))).toBe(true);
    // Cut off for longer than the lease lives: renewals fail, another replica's sweep charges
    // the whole row.
    state.mode = 'failed';
    now += 6_000;
    const hit = state.hit;
    await waitFor(() => state.hit > hit, 5_000);
    await store.recoverReservations(LATER);
    const swept = await money();
    expect(swept.spentUsd).toBeGreaterThan(0.01);
    expect(swept.reservedUsd).toBe(0);
    // Back: the usage writer's retry lands, and the replica returns what the lease had free.
    state.mode = 'ok';
    await m.settle(usage('late', 0.004));
    await m.close();
    expect(await money()).toEqual({
      spentUsd: expect.closeTo(0.004, 12),
      reservedUsd: 0,
      usage: expect.closeTo(0.004, 12),
      daily: expect.closeTo(0.004, 12),
    });
    expect((await store.getSpend('alpha', [GROUP_DAY]))[GROUP_DAY]!.spentUsd).toBeCloseTo(0.004, 12);
    // The insight rollup follows the records: the uncharge's changes through the trigger, the
    // late settle's own record through the leased settle's statement (migration 21), once each.
    const rolled = await real.query<{ r: number; n: number; u: number }>(
      `SELECT (SELECT coalesce(sum(cost_usd), 0)::float8 FROM usage_insight_days) AS r,
              (SELECT coalesce(sum(requests), 0)::int FROM usage_insight_days) AS n,
              (SELECT count(*)::int FROM usage) AS u`,
    );
    expect(rolled.rows[0]).toEqual({
      r: expect.closeTo(0.004, 12),
      n: rolled.rows[0]!.u,
      u: expect.any(Number),
    });
    expect(rolled.rows[0]!.u).toBeGreaterThan(0);
  });
});
