import { describe, expect, it } from 'vitest';
import { createSlotBook, type SlotPlan } from '../../../src/store/postgres/leases/slot-book.js';

/**
 * A reload replaces a key's slot plan (docs/postgres.md#rate-leases): the old plan's free leased
 * slots are inflight rows of the key, which the new plan's requests (taken in the database one by
 * one until a grant) count as taken, so they must go back at the next round.
 */
describe('slot book: a reloaded key', () => {
  const LEASE = 600_000;

  /** A book whose plan `before` holds `granted` free leased slots at `now`. */
  function busyBook(before: SlotPlan, granted: number, now: number) {
    let n = 0;
    const book = createSlotBook({
      expiryMs: 5_000,
      marginMs: 1_250,
      tauMs: 2_000,
      minRequests: 4,
      idleMs: 1_000,
      newId: () => `slease:${++n}`,
    });
    const ids = Array.from({ length: 6 }, (_, i) => `r${i}`);
    for (const id of ids) {
      expect(book.take(before, id, now + LEASE, now)).toBe(false);
      book.tookInDb(before, id, now + LEASE);
    }
    const round = book.planRound(now);
    const part = round.parts.find((p) => p.grant);
    expect(part?.grant?.want).toBeGreaterThanOrEqual(granted);
    book.applyRound(
      round,
      round.parts.map((p) => ({ granted: p.grant ? granted : 0, room: 16, gone: [] })),
    );
    for (const id of ids) book.end(id);
    expect(book.stats().slots).toBe(granted);
    return book;
  }

  const trimsOf = (book: ReturnType<typeof createSlotBook>, plan: SlotPlan, now: number) =>
    book.planRound(now).parts.find((p) => JSON.stringify(p.subjects) === JSON.stringify(plan.subjects))?.trims
      .length ?? 0;

  it('gives back the old plan’s free slots at the next round when its max_parallel changes', () => {
    const now = 1_000_000;
    const before: SlotPlan = { key: 'k', subjects: ['k'], maxParallel: [8] };
    const book = busyBook(before, 4, now);
    expect(book.take({ ...before, maxParallel: [4] }, 'after', now + LEASE, now + 10)).toBe(false);
    expect(trimsOf(book, before, now + 20)).toBe(4);
  });

  it('gives back the old plan’s free slots at the next round when the key moves into a group', () => {
    const now = 1_000_000;
    const before: SlotPlan = { key: 'k', subjects: ['k'], maxParallel: [8] };
    const book = busyBook(before, 4, now);
    const after: SlotPlan = { key: 'k', subjects: ['k', '@g'], maxParallel: [8, 2] };
    expect(book.take(after, 'after', now + LEASE, now + 10)).toBe(false);
    expect(trimsOf(book, before, now + 20)).toBe(4);
  });
});
