import type { SlotRequest, SlotResult } from '../types.js';
import { guarded, inTransaction, type Pool } from './pool.js';

const WINDOW_MS = 60_000;

/**
 * Fleet-wide rpm (rolling 60 s) and max_parallel. A transaction-scoped advisory lock per key
 * serializes the check-then-insert of every replica for that key, so a burst spread across
 * replicas is admitted exactly up to the limit; different keys never wait on each other.
 * Same semantics as the embedded limiter (memory-rate.ts): max_parallel is checked first, and a
 * request is recorded only when it passes both checks.
 */
export function acquireSlot(pool: Pool, r: SlotRequest): Promise<SlotResult> {
  if (r.rpm === undefined && r.maxParallel === undefined) return Promise.resolve({ ok: true });
  return inTransaction(pool, async (c) => {
    await c.query("SELECT pg_advisory_xact_lock(hashtext('tollgate:slot:' || $1))", [r.key]);
    if (r.maxParallel !== undefined) {
      // Slots whose lease ended belong to a replica that died: they stop counting.
      await c.query('DELETE FROM inflight WHERE key = $1 AND lease_until <= $2', [r.key, r.now]);
      const { rows } = await c.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM inflight WHERE key = $1',
        [r.key],
      );
      if ((rows[0]?.n ?? 0) >= r.maxParallel) {
        // When a slot frees is unknowable (it ends with someone else's response): retry soon.
        return { ok: false, limit: 'max_parallel', retryAfterSec: 1, remaining: 0 };
      }
    }
    if (r.rpm !== undefined) {
      await c.query('DELETE FROM rate_events WHERE key = $1 AND ts <= $2', [r.key, r.now - WINDOW_MS]);
      const { rows } = await c.query<{ n: number; oldest: number | null }>(
        'SELECT count(*)::int AS n, min(ts) AS oldest FROM rate_events WHERE key = $1',
        [r.key],
      );
      if ((rows[0]?.n ?? 0) >= r.rpm) {
        // The next slot opens when the oldest request in the window turns 60 s old.
        const oldest = rows[0]?.oldest ?? r.now;
        const retryAfterSec = Math.max(1, Math.ceil((oldest + WINDOW_MS - r.now) / 1000));
        return { ok: false, limit: 'rpm', retryAfterSec, remaining: 0 };
      }
      await c.query('INSERT INTO rate_events (key, ts, id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        r.key,
        r.now,
        r.id,
      ]);
    }
    if (r.maxParallel !== undefined) {
      await c.query(
        'INSERT INTO inflight (key, id, lease_until) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [r.key, r.id, r.leaseUntil],
      );
    }
    return { ok: true };
  });
}

export function releaseSlot(pool: Pool, id: string, key: string): Promise<void> {
  return guarded(async () => {
    await pool.query('DELETE FROM inflight WHERE key = $1 AND id = $2', [key, id]);
  });
}
