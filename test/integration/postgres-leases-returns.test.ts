import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { LeaseManager } from '../../src/store/postgres/leases/lease-manager.js';
import type { Pool } from '../../src/store/postgres/pool.js';
import type { BudgetWindow } from '../../src/store/types.js';
import { DAY, leaseDatabase, leaseRequest, T0, leaseUsage as usage } from '../helpers/pg-leases.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * Budget leases of a replica that stays alive while its rounds fail, its answers are lost or the
 * database sweeps its leases (docs/postgres.md#budget-leases, migration 14): what it returns is
 * never charged as spend, and a cost settled after its lease was swept is charged once. Spend
 * equals the settled costs exactly, and so does the sum of the usage records.
 */
const GROUP_DAY = '@team/d:2026-11-26';
const periods = [GROUP_DAY, DAY, 'm:2026-11'];
const windows: BudgetWindow[] = [
  { period: DAY, limitUsd: 10 },
  { period: GROUP_DAY, limitUsd: 20 },
];
const LATER = T0 + 3_600_000;

const request = (id: string) => leaseRequest(id, windows, periods);

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
  const t = leaseDatabase();
  /** Requests that find no lease: the demand that makes the manager ask for one. */
  const warm = (m: LeaseManager) => {
    for (let i = 0; i < 8; i++) m.take(request(`warm-${i}-${Math.random()}`));
  };
  const money = async () => {
    const spend = (await t.store.getSpend('alpha', [DAY, GROUP_DAY]))[DAY]!;
    const rows = await t.real.query<{ c: number; d: number }>(
      `SELECT (SELECT coalesce(sum(cost_usd), 0)::float8 FROM usage) AS c,
              (SELECT coalesce(sum(cost_usd), 0)::float8 FROM usage_daily) AS d`,
    );
    return { ...spend, usage: rows.rows[0]!.c, daily: rows.rows[0]!.d };
  };

  it('does not charge a disabled key’s lease as spend when the round returning it failed', async () => {
    const { pool, state } = flakyPool(t.real);
    const m = t.start(pool);
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
    await t.store.recoverReservations(LATER);
    expect(await money()).toEqual({
      spentUsd: expect.closeTo(0.004, 12),
      reservedUsd: 0,
      usage: expect.closeTo(0.004, 12),
      daily: expect.closeTo(0.004, 12),
    });
  });

  it('gives back a first grant whose answer was lost instead of charging it when it expires', async () => {
    const { pool, state } = flakyPool(t.real);
    state.mode = 'lost';
    const m = t.start(pool);
    warm(m);
    await waitFor(() => state.hit > 0, 5_000);
    expect((await money()).reservedUsd).toBeGreaterThan(0);
    // The burst is over (nothing asks for a new lease) and the database is back.
    t.now += 5_000;
    state.mode = 'ok';
    await waitFor(async () => (await money()).reservedUsd === 0, 5_000);
    await t.store.recoverReservations(LATER);
    expect(await money()).toEqual({ spentUsd: 0, reservedUsd: 0, usage: 0, daily: 0 });
  });

  it('charges a settle landing after its lease was swept once, and returns the rest of the lease', async () => {
    const { pool, state } = flakyPool(t.real);
    const m = t.start(pool);
    warm(m);
    await waitFor(() => m.holdings().leases > 0, 5_000);
    expect(m.take(request('late'))).toBe(true);
    // Cut off for longer than the lease lives: renewals fail, another replica's sweep charges
    // the whole row.
    state.mode = 'failed';
    t.now += 6_000;
    const hit = state.hit;
    await waitFor(() => state.hit > hit, 5_000);
    await t.store.recoverReservations(LATER);
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
    expect((await t.store.getSpend('alpha', [GROUP_DAY]))[GROUP_DAY]!.spentUsd).toBeCloseTo(0.004, 12);
    // The insight rollup follows the records: the uncharge's changes through the trigger, the
    // late settle's own record through the leased settle's statement (migration 21), once each.
    const rolled = await t.real.query<{ r: number; n: number; u: number }>(
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
