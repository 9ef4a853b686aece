import { guarded, type Pool } from '../pool.js';

/**
 * How long a swept budget lease's charge (the lease_charges row, migration 14) is kept, and the
 * bound on the settles that may still draw on it (docs/postgres.md#budget-leases).
 *
 * A swept lease's charge is read by its owner's returns (its free part, proven unspent) and by its
 * late settles (their cost, taken back from the charge so it counts once). Both are bounded in
 * time: a leased settle is sent at most LEASED_SETTLE_MAX_AGE_MS after its request took its hold
 * (lease-manager.ts; later, it is logged whole as fatal and not sent, its cost staying charged at
 * what its lease held for it), and a lease is swept only after its replica stopped using it, so
 * never before that hold was taken. The sweep deletes a charge LEASE_CHARGE_KEPT_MS after it was
 * made (a day more, for clocks that disagree): no settle that could draw on it arrives any more.
 * A return arriving later (a replica cut off from the database for over a week) finds nothing and
 * gives nothing back: the free part stays charged, never returned as free budget.
 */
const DAY_MS = 86_400_000;
export const LEASED_SETTLE_MAX_AGE_MS = 7 * DAY_MS;
export const LEASE_CHARGE_KEPT_MS = LEASED_SETTLE_MAX_AGE_MS + DAY_MS;

/** Charges deleted per sweep at most: one short statement, whatever the backlog. */
export const LEASE_CHARGE_PRUNE_BATCH = 1_000;

/**
 * Deletes up to LEASE_CHARGE_PRUNE_BATCH charges made more than LEASE_CHARGE_KEPT_MS before `now`,
 * oldest first (an index on swept_at, migration 27). SKIP LOCKED: a charge a round or a settle has
 * locked is left for a later sweep, and replicas sweeping side by side never wait on each other.
 */
export function pruneLeaseCharges(pool: Pool, now: number): Promise<number> {
  return guarded(async () => {
    const r = await pool.query(
      `DELETE FROM lease_charges WHERE id IN (
         SELECT id FROM lease_charges WHERE swept_at < $1 ORDER BY swept_at
         LIMIT ${LEASE_CHARGE_PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`,
      [now - LEASE_CHARGE_KEPT_MS],
    );
    return r.rowCount ?? 0;
  });
}
