import type { SlotEnd, SlotLimits, SlotRequest, SlotResult } from '../types.js';
import { createBatcher } from './batch.js';
import { oneStatement, type Pool } from './pool.js';

/**
 * Fleet-wide rpm and tpm (rolling 60 s) and max_parallel, in tollgate_acquire_slots (migrations
 * 5 and 6; the minute's request count and token sum are kept in rate_counts): transaction-scoped
 * advisory locks on the key and its group, taken in one global order, serialize the check-then-insert of every replica for them, so a burst spread across replicas
 * is admitted exactly up to the key's and the group's limits. Same semantics as the embedded
 * limiter (memory-rate.ts): max_parallel is checked first, then rpm, then tpm, and a request is
 * recorded only when it passes every check of the key and of its group. The tables are
 * UNLOGGED: a database crash forgetting the last minute is harmless.
 */
interface SlotRow {
  o_ok: boolean;
  o_subject: string | null;
  o_limit: 'rpm' | 'max_parallel' | 'tpm' | null;
  o_retry_after_sec: number;
  o_remaining: number | null;
}

/** The subjects of a request (the key, then its group) with their limits; null when none is limited. */
function partsOf(r: SlotRequest): [string, SlotLimits][] | null {
  const parts: [string, SlotLimits][] = [[r.key, r]];
  if (r.group) parts.push([r.group.subject, r.group]);
  const limited = parts.some(
    ([, l]) => l.rpm !== undefined || l.maxParallel !== undefined || l.tpm !== undefined,
  );
  return limited ? parts : null;
}

function resultOf(r: SlotRequest, row: SlotRow | undefined): SlotResult {
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
}

export function acquireSlot(pool: Pool, r: SlotRequest): Promise<SlotResult> {
  const parts = partsOf(r);
  if (!parts) return Promise.resolve({ ok: true });
  return oneStatement(pool, async (q) => {
    const { rows } = await q.query<SlotRow>({
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
    return resultOf(r, rows[0]);
  });
}

/**
 * acquireSlot through a group commit (batch.ts): the slot requests of concurrent requests go to
 * tollgate_acquire_many in one call, under one set of advisory locks, each checked in its turn
 * as if alone (so a burst is still admitted exactly up to the limits).
 */
export function createBatchedSlots(
  pool: Pool,
  maxInFlight: number,
  staleAfterMs: number,
): (r: SlotRequest) => Promise<SlotResult> {
  const batched = createBatcher<SlotRequest, SlotResult>({
    maxBatch: 64,
    maxInFlight,
    staleAfterMs,
    one: (r) => acquireSlot(pool, r),
    many: (items) =>
      oneStatement(pool, async (q) => {
        const payload = items.map((r) => {
          const parts = partsOf(r) ?? [];
          return {
            id: r.id,
            subjects: parts.map(([s]) => s),
            rpm: parts.map(([, l]) => l.rpm ?? null),
            maxParallel: parts.map(([, l]) => l.maxParallel ?? null),
            tpm: parts.map(([, l]) => l.tpm ?? null),
            tokens: r.tokens ?? 0,
            now: r.now,
            lease: r.leaseUntil,
          };
        });
        const { rows } = await q.query<SlotRow & { o_n: number }>({
          name: 'tollgate_acquire_many',
          text: 'SELECT * FROM tollgate_acquire_many($1::jsonb)',
          values: [JSON.stringify(payload)],
        });
        const out: SlotResult[] = items.map(() => ({ ok: true }));
        for (const row of rows) {
          const r = items[row.o_n - 1];
          if (r) out[row.o_n - 1] = resultOf(r, row);
        }
        return out;
      }),
  });
  // Nothing limited: no round trip at all, batched or not.
  return (r) => (partsOf(r) ? batched(r) : Promise.resolve({ ok: true }));
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
