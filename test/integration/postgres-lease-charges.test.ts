import type pg from 'pg';
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { LEASE_CHARGE_KEPT_MS } from '../../src/store/postgres/leases/lease-charges.js';
import type { Pool } from '../../src/store/postgres/pool.js';
import type { BudgetWindow } from '../../src/store/types.js';
import { DAY, leaseDatabase, leaseRequest, T0, leaseUsage as usage } from '../helpers/pg-leases.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * The charges of swept budget leases (lease_charges, migration 14) are deleted by the sweep once no
 * settle can draw on them any more (migration 27, src/store/postgres/leases/lease-charges.ts): a
 * bounded batch per pass, the newer ones kept, a late settle within the window still charged once,
 * and a settle later than the window not sent, so it is never charged a second time.
 */
const DAY_MS = 86_400_000;
const periods = [DAY, 'm:2026-11'];
const windows: BudgetWindow[] = [{ period: DAY, limitUsd: 10 }];
const request = (id: string) => leaseRequest(id, windows, periods);

/** Lease rounds reach the database, or fail before it (a replica cut off from it). */
function cutOffPool(real: pg.Pool) {
  const state = { cut: false, hit: 0 };
  const pool = {
    query: async (cfg: pg.QueryConfig, values?: unknown[]) => {
      if (!state.cut || cfg?.name !== 'tollgate_lease_round') return real.query(cfg, values);
      state.hit++;
      throw new Error('connection terminated unexpectedly');
    },
  };
  return { pool: pool as unknown as Pool, state };
}

describe('postgres store: the charges of swept leases', () => {
  const t = leaseDatabase();
  const logged: { level: number; record?: { requestId: string }; msg: string }[] = [];

  // Before each, not after: the helper's own after-each closes the manager, which may still log.
  beforeEach(() => {
    logged.length = 0;
  });

  const charges = async () =>
    (await t.real.query<{ id: string }>('SELECT id FROM lease_charges ORDER BY id')).rows.map((r) => r.id);
  const money = async () => {
    const spend = (await t.store.getSpend('alpha', [DAY]))[DAY]!;
    const { rows } = await t.real.query<{ c: number }>(
      'SELECT coalesce(sum(cost_usd), 0)::float8 AS c FROM usage',
    );
    return { spentUsd: spend.spentUsd, reservedUsd: spend.reservedUsd, usage: rows[0]!.c };
  };

  /** A replica holding 0.01 of a lease for request `late`, cut off until its lease is swept (at T0 + 1 h). */
  async function sweptWhileHeld() {
    const { pool, state } = cutOffPool(t.real);
    const log = pino({ level: 'info' }, { write: (l: string) => logged.push(JSON.parse(l)) });
    const m = t.start(pool, log);
    for (let i = 0; i < 8; i++) m.take(request(`warm-${i}`));
    await waitFor(() => m.holdings().leases > 0, 5_000);
    expect(m.take(request('late'))).toBe(true);
    state.cut = true;
    t.now += 6_000;
    const hit = state.hit;
    await waitFor(() => state.hit > hit, 5_000);
    await t.store.recoverReservations(T0 + 3_600_000);
    expect(await charges()).toHaveLength(1);
    const swept = await money();
    expect(swept.reservedUsd).toBe(0);
    state.cut = false;
    return { m, swept, state };
  }

  it('deletes charges older than the window in bounded batches, and keeps the newer ones', async () => {
    const old = T0 - LEASE_CHARGE_KEPT_MS - 1;
    const recent = T0 - LEASE_CHARGE_KEPT_MS + DAY_MS;
    await t.real.query(`INSERT INTO lease_charges (id, key, periods, charged_usd, released_usd, granted_usd, swept_at)
      SELECT 'lease:old-' || n, 'alpha', ARRAY['${DAY}'], 1, 0, 1, ${old} - n FROM generate_series(1, 1200) n
      UNION ALL SELECT 'lease:new-' || n, 'alpha', ARRAY['${DAY}'], 1, 0, 1, ${recent} FROM generate_series(1, 3) n`);
    await t.store.recoverReservations(T0);
    const left = await charges();
    // One batch of 1,000 a pass, oldest first.
    expect(left.filter((id) => id.startsWith('lease:old-'))).toHaveLength(200);
    expect(left).toContain('lease:old-1');
    await t.store.recoverReservations(T0);
    expect(await charges()).toEqual(['lease:new-1', 'lease:new-2', 'lease:new-3']);
  });

  it('keeps a swept lease’s charge while a settle may still land, and that settle is charged once', async () => {
    const { m } = await sweptWhileHeld();
    // Six days on, sweeps have run: the charge is still there for the settle landing now.
    t.now = T0 + 6 * DAY_MS;
    await t.store.recoverReservations(t.now);
    expect(await charges()).toHaveLength(1);
    await m.settle(usage('late', 0.004));
    // And the replica, back, returns what the lease had free against the same charge.
    await m.close();
    expect(await money()).toEqual({
      spentUsd: expect.closeTo(0.004, 12),
      reservedUsd: 0,
      usage: expect.closeTo(0.004, 12),
    });
  });

  it('does not send a settle later than the window, whose charge is gone: it is not charged twice', async () => {
    const { m, swept, state } = await sweptWhileHeld();
    t.now = T0 + 9 * DAY_MS;
    // (Its rounds, returning the lease against the charge, lock it: the sweep would skip it.)
    state.cut = true;
    const hit = state.hit;
    await waitFor(() => state.hit > hit, 5_000);
    await t.store.recoverReservations(t.now);
    state.cut = false;
    expect(await charges()).toEqual([]);
    await m.settle(usage('late', 0.004));
    // What the sweep charged for the lease (the request's hold in it) stays, once; what the lease
    // had free, returned after the window, is not given back (charged, never free budget).
    expect(await money()).toEqual(swept);
    await m.close();
    expect(await money()).toEqual(swept);
    const fatal = logged.filter((l) => l.level === 60);
    expect(fatal.map((l) => l.record?.requestId)).toEqual(['late']);
  });
});
