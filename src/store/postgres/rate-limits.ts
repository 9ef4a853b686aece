import type { SlotRequest, SlotResult } from '../types.js';
import { guarded, oneStatement, type Pool } from './pool.js';

/**
 * Fleet-wide rpm (rolling 60 s) and max_parallel, in tollgate_acquire_slot (migration 2): a
 * transaction-scoped advisory lock per key serializes the check-then-insert of every replica
 * for that key, so a burst spread across replicas is admitted exactly up to the limit.
 * Same semantics as the embedded limiter (memory-rate.ts): max_parallel is checked first, and a
 * request is recorded only when it passes both checks. The tables are UNLOGGED: a database
 * crash forgetting the last minute is harmless.
 */
export function acquireSlot(pool: Pool, r: SlotRequest): Promise<SlotResult> {
  if (r.rpm === undefined && r.maxParallel === undefined) return Promise.resolve({ ok: true });
  return oneStatement(pool, async (q) => {
    const { rows } = await q.query<{
      o_ok: boolean;
      o_limit: 'rpm' | 'max_parallel' | null;
      o_retry_after_sec: number;
      o_remaining: number | null;
    }>('SELECT * FROM tollgate_acquire_slot($1, $2, $3, $4, $5, $6)', [
      r.key,
      r.id,
      r.rpm ?? null,
      r.maxParallel ?? null,
      r.now,
      r.leaseUntil,
    ]);
    const row = rows[0];
    if (!row) return { ok: true };
    if (row.o_ok) return row.o_remaining === null ? { ok: true } : { ok: true, remaining: row.o_remaining };
    return { ok: false, limit: row.o_limit ?? 'rpm', retryAfterSec: row.o_retry_after_sec, remaining: 0 };
  });
}

export function releaseSlot(pool: Pool, id: string, key: string): Promise<void> {
  return guarded(async () => {
    await pool.query('DELETE FROM inflight WHERE key = $1 AND id = $2', [key, id]);
  });
}
