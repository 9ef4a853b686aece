import pg from 'pg';
import { afterEach, beforeEach } from 'vitest';
import { type Logger, silentLogger } from '../../src/log.js';
import { createLeaseManager, type LeaseManager } from '../../src/store/postgres/leases/lease-manager.js';
import type { Pool } from '../../src/store/postgres/pool.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { BudgetWindow, Store, UsageRecord } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from './pg.js';
import { usageRecord } from './usage-record.js';

/** The budget lease tests' moment (the store's clock) and day period. */
export const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
export const DAY = 'd:2026-11-26';

/** Request `id` of key 'alpha', settled at T0 for `costUsd`. */
export const leaseUsage = (id: string, costUsd: number): UsageRecord =>
  usageRecord({ requestId: id, costUsd, ts: T0 });

/** Request `id` of key 'alpha' holding 0.01 in `periods` against `windows`, for ten minutes from T0. */
export const leaseRequest = (id: string, windows: BudgetWindow[], periods: string[]) => ({
  id,
  key: 'alpha',
  amountUsd: 0.01,
  windows,
  periods,
  leaseUntil: T0 + 600_000,
});

export interface LeaseDatabase {
  /** The store, its clock at T0: sweeps (recoverReservations) and reads spend. */
  store: Store;
  /** A pool of the test's own on the same database: reads, and what a test's flaky pool wraps. */
  real: pg.Pool;
  /** The lease manager's clock: T0 at the start of each test. */
  now: number;
  /** A lease manager on `pool` at `now`, one batch in flight, rounds every 20 ms; closed after the test. */
  start(pool: Pool, log?: Logger): LeaseManager;
}

/**
 * For a test file of budget leases on PostgreSQL: a fresh database with the store on it, and a
 * pool of its own, before each test; the test's lease manager, the pool, the store and the
 * database closed and dropped after it.
 */
export function leaseDatabase(): LeaseDatabase {
  let db: TestDatabase;
  let manager: LeaseManager | null = null;
  const t = {
    now: T0,
    start(pool: Pool, log: Logger = silentLogger()) {
      manager = createLeaseManager({
        pool,
        clock: () => t.now,
        log,
        maxInFlight: 1,
        options: { tickMs: 20, minGapMs: 0 },
      });
      return manager;
    },
  } as LeaseDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
    t.store = createPostgresStore(db.url, { poolSize: 2, clock: () => T0 });
    await t.store.init();
    t.real = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterEach(async () => {
    await manager?.close().catch(() => {});
    manager = null;
    t.now = T0;
    await t.real.end();
    await t.store.close();
    await db.drop();
  });
  return t;
}
