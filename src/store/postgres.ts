import { type Clock, systemClock } from '../clock.js';
import { type Logger, silentLogger } from '../log.js';
import { checkedReserve, checkedSettle } from './money-guard.js';
import * as budget from './postgres/budget.js';
import { createBatchedBudget } from './postgres/budget-batch.js';
import { withDeadline } from './postgres/deadline.js';
import { createPostgresDisables } from './postgres/disable-calls.js';
import { createLeaseManager, type LeaseManagerOptions } from './postgres/leases/lease-manager.js';
import { leasedSlotCalls } from './postgres/leases/leased-slots.js';
import { createRateLeaseManager } from './postgres/leases/rate-lease-manager.js';
import { createSlotLeaseManager, type SlotLeaseOptions } from './postgres/leases/slot-lease-manager.js';
import { applyPostgresMigrations } from './postgres/migrate.js';
import { type PostgresStoreOptions, resolvePostgresOptions } from './postgres/options.js';
import { createPool, guarded } from './postgres/pool.js';
import { createBatchedSlots } from './postgres/rate-limits.js';
import { postgresRecordCalls, postgresReportCalls } from './postgres/role-calls.js';
import { guardStoreCalls } from './store-unavailable.js';
import type { SlotEnd, SlotRequest, SlotResult, Store } from './types.js';

export type { PostgresStoreOptions } from './postgres/options.js';

export interface CreatePostgresStoreOptions extends PostgresStoreOptions {
  log?: Logger;
  /** Stamps reservations, so a recovered one is charged to the time it was made. */
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** Slot lease tuning (tests): expiry of a free leased slot, round tick. */
  slotLeases?: SlotLeaseOptions;
  /** Budget lease tuning (tests): when a slow settle batch lets the next go beside it. */
  budgetLeases?: Pick<LeaseManagerOptions, 'settleStallMs'>;
}

/**
 * A slot granted after its caller gave up (withDeadline answered store_unavailable): that request
 * was refused and never ends, so nothing else would free its max_parallel slot and tpm estimate
 * before its lease ran out. Freed with no tokens (it never ran); its rpm stays counted.
 */
function freeLateSlot(release: (id: string, key: string, end?: SlotEnd) => Promise<void>, log: Logger) {
  return (result: SlotResult, r: SlotRequest): void => {
    if (!result.ok) return;
    release(r.id, r.key, { ...(r.group ? { group: r.group.subject } : {}), tokens: 0 }).catch(
      (err: unknown) =>
        log.warn({ err, requestId: r.id, key: r.key }, 'could not free a slot granted after its deadline'),
    );
  };
}

/**
 * The store for several replicas on one PostgreSQL database: budgets, rate limits, disables,
 * claims and usage are shared by every gateway process that points at the same URL.
 *
 * Every method rejects with GatewayError `store_unavailable` while the database cannot be
 * reached, within the connect timeout (2 s) or the statement timeout; the pool reconnects on
 * its own once the database is back. Pool size and statement timeout: see options.ts.
 */
export function createPostgresStore(url: string, opts: CreatePostgresStoreOptions = {}): Store {
  const log = opts.log ?? silentLogger();
  const clock = opts.clock ?? systemClock;
  const resolved = resolvePostgresOptions(url, opts, opts.env ?? process.env);
  const pool = createPool(resolved, log);
  const limit = resolved.statementTimeoutMs;
  // A quarter of the pool each for slot, reserve and settle batches: the rest stays free for reads.
  // (Leased settles, nearly every settle of a busy replica, go one batch at a time while the
  // database answers: lease-manager.ts.)
  const inFlight = Math.max(1, Math.floor(resolved.poolSize / 4));
  // A reserve or slot call still queued when its caller's deadline passed is not sent (batch.ts).
  const batched = createBatchedBudget(pool, inFlight, limit);
  const acquireSlot = createBatchedSlots(pool, inFlight, limit);
  // Budget leases: busy keys spend slices of their windows held by this replica (leases/book.ts).
  const leases =
    resolved.leaseHorizonMs > 0
      ? createLeaseManager({
          pool,
          clock,
          log,
          maxInFlight: inFlight,
          // A round the replica saw fail may commit until its statement times out (pool.ts).
          options: {
            horizonMs: resolved.leaseHorizonMs,
            roundLandsWithinMs: resolved.statementTimeoutMs + 1_000,
            ...opts.budgetLeases,
          },
        })
      : null;

  // Rate leases: busy plans take rpm and tpm slots from slices this replica holds (rate-book.ts).
  const rateLeases =
    resolved.leaseHorizonMs > 0
      ? createRateLeaseManager({ pool, clock, log, options: { horizonMs: resolved.leaseHorizonMs } })
      : null;

  // Slot leases: busy plans with max_parallel take and free their slots in blocks this replica
  // holds (slot-book.ts); their rpm and tpm then come from rate leases, or all goes to the database.
  const slotLeases =
    resolved.leaseHorizonMs > 0
      ? createSlotLeaseManager({ pool, clock, log, ...(opts.slotLeases ? { options: opts.slotLeases } : {}) })
      : null;
  const slots = leasedSlotCalls({ pool, acquireInDb: acquireSlot, rateLeases, slotLeases });

  const revokers = [leases, rateLeases, slotLeases].filter((x) => x !== null);
  const disables = createPostgresDisables({
    pool,
    log,
    resolved,
    leases: revokers.length
      ? {
          revoke: (revoked) => {
            for (const x of revokers) x.revoke(revoked);
          },
        }
      : null,
  });
  let closed = false;

  const store: Store = {
    kind: 'postgres',
    init: () => guarded(() => applyPostgresMigrations(pool).then(() => undefined)),
    ping: () =>
      guarded(async () => {
        await pool.query('SELECT 1');
      }),
    async close() {
      if (closed) return;
      closed = true;
      await disables.close();
      await leases?.close().catch((err: unknown) => log.warn({ err }, 'could not return the budget leases'));
      await rateLeases?.close().catch((err: unknown) => log.warn({ err }, 'could not trim the rate leases'));
      await slotLeases
        ?.close()
        .catch((err: unknown) => log.warn({ err }, 'could not return the slot leases'));
      await pool.end();
    },

    // The calls on a request's path answer within the statement timeout, whatever the network does.
    // Reserve and settle go through group commits (postgres/batch.ts).
    reserve: withDeadline(limit, async (r) => {
      const checked = checkedReserve(r);
      if (leases?.take(checked)) return { ok: true, leased: true };
      const result = await batched.reserve(checked, clock());
      if (result.ok || !leases) return result;
      // This replica's own lease may hold what the database refused: the last cents are served
      // (not `leased`: the database answered this reservation's transaction).
      return (await leases.takeAfterRefusal(checked)) ? { ok: true } : result;
    }),
    settle: withDeadline(limit, async (usage, periods) => {
      const checked = checkedSettle(usage);
      // The record, its media units and the charge: one statement (migration 19).
      return leases?.settle(checked) ?? batched.settle(checked, periods);
    }),
    ...(leases ? { leaseHoldings: () => leases.holdings() } : {}),
    ...(rateLeases
      ? {
          rateLeaseHoldings: () => ({
            ...rateLeases.stats(),
            ...(slotLeases?.stats() ?? { slots: 0, slotsInUse: 0, slotsServed: 0 }),
          }),
        }
      : {}),
    recoverReservations: (now, all = false) => budget.recoverReservations(pool, now, all),
    getSpend: withDeadline(limit, (key, periods) => budget.getSpend(pool, key, periods)),
    getAllSpend: (periods) => budget.getAllSpend(pool, periods),

    acquireSlot: withDeadline(limit, slots.acquire, freeLateSlot(slots.release, log)),
    releaseSlot: withDeadline(limit, slots.release),

    ...disables.calls,
    ...postgresRecordCalls(pool),
    ...postgresReportCalls(pool),
  };

  // The store's boundary: whatever a call fails with (the listener, a deadline, a bug) reaches
  // callers as store_unavailable, as the calls through pool.ts already do.
  return guardStoreCalls(store, 'PostgreSQL');
}
