import pg from 'pg';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LEASE_CHARGE_KEPT_MS } from '../../src/store/postgres/leases/lease-charges.js';
import { createLeaseManager, type LeaseManager } from '../../src/store/postgres/leases/lease-manager.js';
import type { Pool } from '../../src/store/postgres/pool.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { BudgetWindow, Store, UsageRecord } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * The charges of swept budget leases (lease_charges, migration 14) are deleted by the sweep once no
 * settle can draw on them any more (migration 27, src/store/postgres/leases/lease-charges.ts): a
 * bounded batch per pass, the newer ones kept, a late settle within the window still charged once,
 * and a settle later than the window not sent, so it is never charged a second time.
 */
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const DAY_MS = 86_400_000;
const DAY = 'd:2026-11-26';
const periods = [DAY, 'm:2026-11'];
const windows: BudgetWindow[] = [{ period: DAY, limitUsd: 10 }];

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
  let db: TestDatabase;
  let store: Store;
  let real: pg.Pool;
  let manager: LeaseManager | null = null;
  let now = T0;
  const logged: { level: number; record?: { requestId: string }; msg: string }[] = [];

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
    logged.length = 0;
    await real.end();
    await store.close();
    await db.drop();
  });

  const charges = async () =>
    (await real.query<{ id: string }>('SELECT id FROM lease_charges ORDER BY id')).rows.map((r) => r.id);
  const money = async () => {
    const spend = (await store.getSpend('alpha', [DAY]))[DAY]!;
    const { rows } = await real.query<{ c: number }>(
      'SELECT coalesce(sum(cost_usd), 0)::float8 AS c FROM usage',
    );
    return { spentUsd: spend.spentUsd, reservedUsd: spend.reservedUsd, usage: rows[0]!.c };
  };

  /** A replica holding 0.01 of a lease for request `late`, cut off until its lease is swept (at T0 + 1 h). */
  async function sweptWhileHeld() {
    const { pool, state } = cutOffPool(real);
    const log = pino({ level: 'info' }, { write: (l: string) => logged.push(JSON.parse(l)) });
    const m = createLeaseManager({
      pool,
      clock: () => now,
      log,
      maxInFlight: 1,
      options: { tickMs: 20, minGapMs: 0 },
    });
    manager = m;
    for (let i = 0; i < 8; i++) m.take(request(`warm-${i}`));
    await waitFor(() => m.holdings().leases > 0, 5_000);
    expect(m.take(request('late'))).toBe(true);
    state.cut = true;
    now += 6_000;
    const hit = state.hit;
    await waitFor(() => state.hit > hit, 5_000);
    await store.recoverReservations(T0 + 3_600_000);
    expect(await charges()).toHaveLength(1);
    const swept = await money();
    expect(swept.reservedUsd).toBe(0);
    state.cut = false;
    return { m, swept, state };
  }

  it('deletes charges older than the window in bounded batches, and keeps the newer ones', async () => {
    const old = T0 - LEASE_CHARGE_KEPT_MS - 1;
    const recent = T0 - LEASE_CHARGE_KEPT_MS + DAY_MS;
    await real.query(`INSERT INTO lease_charges (id, key, periods, charged_usd, released_usd, granted_usd, swept_at)
      SELECT 'lease:old-' || n, 'alpha', ARRAY['${DAY}'], 1, 0, 1, ${old} - n FROM generate_series(1, 1200) n
      UNION ALL SELECT 'lease:new-' || n, 'alpha', ARRAY['${DAY}'], 1, 0, 1, ${recent} FROM generate_series(1, 3) n`);
    await store.recoverReservations(T0);
    const left = await charges();
    // One batch of 1,000 a pass, oldest first.
    expect(left.filter((id) => id.startsWith('lease:old-'))).toHaveLength(200);
    expect(left).toContain('lease:old-1');
    await store.recoverReservations(T0);
    expect(await charges()).toEqual(['lease:new-1', 'lease:new-2', 'lease:new-3']);
  });

  it('keeps a swept lease’s charge while a settle may still land, and that settle is charged once', async () => {
    const { m } = await sweptWhileHeld();
    // Six days on, sweeps have run: the charge is still there for the settle landing now.
    now = T0 + 6 * DAY_MS;
    await store.recoverReservations(now);
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
    now = T0 + 9 * DAY_MS;
    // (Its rounds, returning the lease against the charge, lock it: the sweep would skip it.)
    state.cut = true;
    const hit = state.hit;
    await waitFor(() => state.hit > hit, 5_000);
    await store.recoverReservations(now);
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
