import type { SlotEnd, SlotLimits, SlotRequest, SlotResult } from '../types.js';
import { oneStatement, type Pool } from './pool.js';

/**
 * Fleet-wide rpm and tpm (rolling 60 s) and max_parallel, in tollgate_acquire_slots (migrations
 * 5 and 6; the minute's request count and token sum are kept in rate_counts): transaction-scoped advisory locks on the key and its group, taken in one global order,
 * serialize the check-then-insert of every replica for them, so a burst spread across replicas
 * is admitted exactly up to the key's and the group's limits. Same semantics as the embedded
 * limiter (memory-rate.ts): max_parallel is checked first, then rpm, then tpm, and a request is
 * recorded only when it passes every check of the key and of its group. The tables are
 * UNLOGGED: a database crash forgetting the last minute is harmless.
 */
export function acquireSlot(pool: Pool, r: SlotRequest): Promise<SlotResult> {
  const parts: [string, SlotLimits][] = [[r.key, r]];
  if (r.group) parts.push([r.group.subject, r.group]);
  const limited = parts.some(
    ([, l]) => l.rpm !== undefined || l.maxParallel !== undefined || l.tpm !== undefined,
  );
  if (!limited) return Promise.resolve({ ok: true });
  return oneStatement(pool, async (q) => {
    const { rows } = await q.query<{
      o_ok: boolean;
      o_subject: string | null;
      o_limit: 'rpm' | 'max_parallel' | 'tpm' | null;
      o_retry_after_sec: number;
      o_remaining: number | null;
    }>({
      name: 'tollgate_acquire_slots',
      text: 'SELECT * FROM tollgate_acquire_slots($1, $2::text[], $3::int[], $4::int[], $5::int[], $6, $7, $8)',
      values: [
        r.id,
        parts.map(([s]) => s),
        parts.map(([, l]) => l.rpm ?? null),
        parts.map(([, l]) => l.maxParallel ?? null),
        parts.map(([, l]) => l.tpm ?? null),
        r.tokens ?? 0,
        r.now,
        r.leaseUntil,
      ],
    });
    const row = rows[0];
    if (!row) return { ok: true };
    if (row.o_ok) return row.o_remaining === null ? { ok: true } : { ok: true, remaining: row.o_remaining };
    const group = row.o_subject !== null && row.o_subject !== r.key ? { group: row.o_subject } : {};
    return {
      ok: false,
      limit: row.o_limit ?? 'rpm',
      retryAfterSec: row.o_retry_after_sec,
      remaining: 0,
      ...group,
    };
  });
}

/**
 * Frees the parallel slots of the key and its group and settles their tpm tokens, in one call
 * that takes the subjects' advisory locks first (tollgate_release_slots, migration 6): the
 * token counters of a key and its group are then written in the same order as by acquireSlot.
 */
export function releaseSlot(pool: Pool, id: string, key: string, end?: SlotEnd): Promise<void> {
  const subjects = end?.group ? [key, end.group] : [key];
  return oneStatement(pool, async (q) => {
    await q.query({
      name: 'tollgate_release_slots',
      text: 'SELECT tollgate_release_slots($1, $2::text[], $3)',
      values: [id, subjects, end?.tokens ?? null],
    });
  });
}
