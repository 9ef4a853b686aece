import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../clock.js';
import type { Logger } from '../../../log.js';
import type { LeaseHoldings, PeriodSpend, ReserveRequest, UsageRecord } from '../../types.js';
import { createBatcher } from '../batch.js';
import { reservedPeriods } from '../budget.js';
import type { Pool } from '../pool.js';
import { createLeaseBook, type LeaseBookOptions, type LeasePlan } from './book.js';
import { LEASED_SETTLE_MAX_AGE_MS } from './lease-charges.js';
import { type LeasedItem, runLeaseRound, settleLeased } from './lease-sql.js';
import { NANO } from './money.js';

/**
 * Drives one replica's lease book (book.ts) against the database: requests take from leases
 * without a round trip, leased settles go in batches of their own (one commit for many usage
 * records), and rounds grant, top up, renew and return leases: after a request found no lease
 * for a busy plan (at most every `minGapMs`), and every `tickMs` in any case.
 */
export interface LeaseManagerOptions extends Partial<LeaseBookOptions> {
  /** Every this often: renewals, returns of idle leases, top-ups. */
  tickMs?: number;
  /** Rounds asked for by requests that found no lease are at least this far apart. */
  minGapMs?: number;
  /** A settle batch out this long lets the next go beside it (SETTLE_STALL_MS; tests on a loaded machine). */
  settleStallMs?: number;
}

export const LEASE_DEFAULTS: LeaseBookOptions = {
  tauMs: 2_000,
  horizonMs: 2_000,
  minRequests: 4,
  idleMs: 2_000,
  ttlMs: 30_000,
  // How long a lease waits for a settle before it closes without it. The usage writer may retry
  // longer (until 100,000 records wait): a settle landing after its lease closed and was swept
  // draws its cost from what the sweep charged (migration 14), so it is charged once either way.
  settleGiveUpMs: 15 * 60_000,
  // The default statement timeout (5 s, options.ts) and the client's margin over it (pool.ts);
  // postgres.ts passes the configured one.
  roundLandsWithinMs: 6_000,
  newId: () => `lease:${randomUUID()}`,
};

const MAX_BATCH = 64;

/**
 * Leased settle batches of one replica at the database at once, while it answers. Every batch of
 * a key locks the same spend, usage_daily and rollup rows (migration 21) and holds them through
 * its commit, so a second batch in flight mostly waited behind the first in the database, while it
 * halved how many records each batch carried: the batcher has no timer, a batch is whatever queued
 * while the ones in flight ran. With one in flight, the settles that arrive meanwhile go as the
 * next batch: about twice the records per commit, half the batches (each costs the database a
 * fixed ~0.8 ms of CPU and, on a key's rows, a commit's flush during which no other replica's batch
 * of that key can proceed). bench/pg-statements.ts, 3 replicas: 0.12-0.13 leased settle calls per
 * request instead of 0.22; one replica: 0.03 instead of 0.07.
 *
 * A batch out longer than SETTLE_STALL_MS (a stalled connection, a failed batch retried item by
 * item) lets the next ones go beside it, up to `maxInFlight`: one slow batch must not hold every
 * other settle of the replica, of every key, until its deadline.
 */
const SETTLE_IN_FLIGHT = 1;
const SETTLE_STALL_MS = 200;

export function createLeaseManager(deps: {
  pool: Pool;
  clock: Clock;
  log: Logger;
  /** Batches at the database at once when one has stalled (a quarter of the pool). */
  maxInFlight: number;
  options?: LeaseManagerOptions;
}) {
  const { pool, clock, log } = deps;
  const o = deps.options ?? {};
  const book = createLeaseBook({ ...LEASE_DEFAULTS, ...o });
  const tickMs = o.tickMs ?? 1_000;
  const minGapMs = o.minGapMs ?? 100;
  let running: Promise<void> | null = null;
  let lastRound = Number.NEGATIVE_INFINITY;
  let soon: NodeJS.Timeout | null = null;
  let stopped = false;

  const settleBatch = createBatcher<LeasedItem, Record<string, PeriodSpend> | undefined>({
    maxBatch: MAX_BATCH,
    // Two at least, so that a stalled batch never holds the rest (a pool under 8 has a quarter of 1).
    maxInFlight: Math.max(SETTLE_IN_FLIGHT + 1, deps.maxInFlight),
    stalled: { steady: SETTLE_IN_FLIGHT, afterMs: o.settleStallMs ?? SETTLE_STALL_MS },
    one: (item) => settleLeased(pool, [item]).then((r) => r[0]),
    many: (items) => settleLeased(pool, items),
  });

  const round = (): Promise<void> => {
    running ??= (async () => {
      lastRound = clock();
      const plan = book.planRound(lastRound);
      if (plan.grants.length + plan.returns.length + plan.renew.length === 0) return;
      try {
        book.applyRound(plan, await runLeaseRound(pool, plan));
      } catch (err) {
        book.roundFailed(plan, clock());
        log.warn({ err }, 'a budget lease round failed; requests reserve one by one meanwhile');
      }
    })().finally(() => {
      running = null;
    });
    return running;
  };

  const roundSoon = () => {
    if (soon || stopped) return;
    const wait = Math.max(0, lastRound + minGapMs - clock());
    soon = setTimeout(() => {
      soon = null;
      void (running ?? Promise.resolve()).then(round);
    }, wait);
    soon.unref();
  };

  const ticker = setInterval(() => void (running ?? round()), tickMs);
  ticker.unref();

  return {
    /** Holds the request's amount out of a lease of its plan; false: reserve it in the database. */
    take(r: ReserveRequest): boolean {
      if (stopped || r.windows.length === 0) return false;
      const plan: LeasePlan = { key: r.key, periods: reservedPeriods(r), windows: r.windows };
      if (book.take(plan, r.id, r.amountUsd, clock())) return true;
      roundSoon();
      return false;
    },

    /**
     * The database refused `r`: a lease of its plan that this replica's round was being granted
     * meanwhile holds part of what the database no longer had. Takes from it once the round is in.
     */
    async takeAfterRefusal(r: ReserveRequest): Promise<boolean> {
      if (stopped || r.windows.length === 0) return false;
      await running;
      const plan: LeasePlan = { key: r.key, periods: reservedPeriods(r), windows: r.windows };
      return book.take(plan, r.id, r.amountUsd, clock());
    },

    /** Settles a request served from a lease; undefined when it was not (settle it as before). */
    settle(usage: UsageRecord): Promise<Record<string, PeriodSpend> | undefined> | undefined {
      const now = clock();
      const s = book.startSettle(usage.requestId, usage.costUsd, now);
      if (!s) return undefined;
      if (now - s.heldSince > LEASED_SETTLE_MAX_AGE_MS) {
        book.settled(usage.requestId);
        return tooLate(log, usage, s.leaseId);
      }
      return settleBatch({ usage, leaseId: s.leaseId, periods: s.periods, release: s.release }).then(
        (spend) => {
          book.settled(usage.requestId);
          return spend;
        },
      );
    },

    /** Returns the leases of keys that `revoked` names (disabled on any replica). */
    revoke(revoked: (key: string) => boolean): void {
      book.revoke(revoked);
      roundSoon();
    },

    holdings(): LeaseHoldings {
      const s = book.stats();
      return { leases: s.leases, leasedUsd: s.leased / NANO, heldUsd: s.held / NANO };
    },

    /** Stops leasing and returns what it can (what requests still hold expires and is charged). */
    async close(): Promise<void> {
      stopped = true;
      clearInterval(ticker);
      if (soon) clearTimeout(soon);
      book.revoke(() => true);
      await running;
      await round();
    },
  };
}

export type LeaseManager = ReturnType<typeof createLeaseManager>;

/**
 * A leased settle too late to draw on its lease's charge, which the sweep may have deleted
 * (lease-charges.ts): sent now, it would be charged a second time. Not sent; its cost stays charged
 * at what its lease held for it, and the record is logged whole (it holds no key or prompt) so an
 * operator can replay it.
 */
function tooLate(log: Logger, usage: UsageRecord, leaseId: string): Promise<undefined> {
  log.fatal(
    { record: usage, lease: leaseId },
    'a leased request settled more than 7 days after it took its hold is not written; its lease was charged what it held for it',
  );
  return Promise.resolve(undefined);
}
