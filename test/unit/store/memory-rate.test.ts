import { describe, expect, it } from 'vitest';
import { createMemoryRateLimiter } from '../../../src/store/memory-rate.js';

describe('the embedded rate limiter', () => {
  it('tells how many requests are left in the rolling minute with each admitted request', () => {
    const limiter = createMemoryRateLimiter();
    const slot = (id: string, now: number) =>
      limiter.acquireSlot({ id, key: 'k', rpm: 3, now, leaseUntil: now + 1000 });
    expect(slot('a', 0)).toEqual({ ok: true, remaining: 2 });
    expect(slot('b', 10)).toEqual({ ok: true, remaining: 1 });
    expect(slot('c', 20)).toEqual({ ok: true, remaining: 0 });
    expect(slot('d', 30)).toMatchObject({ ok: false, limit: 'rpm', remaining: 0, retryAfterSec: 60 });
    expect(slot('e', 60_001)).toEqual({ ok: true, remaining: 0 });
  });

  it('reports nothing to count for a key without an rpm limit', () => {
    const limiter = createMemoryRateLimiter();
    expect(limiter.acquireSlot({ id: 'a', key: 'k', maxParallel: 1, now: 0, leaseUntil: 10 })).toEqual({
      ok: true,
    });
  });

  it('keeps an exact rolling minute for a busy key, across the compactions of its history', () => {
    const limiter = createMemoryRateLimiter();
    const rpm = 10_000;
    const slot = (id: string, now: number) =>
      limiter.acquireSlot({ id, key: 'busy', rpm, now, leaseUntil: now + 1000 });
    // 10,000 requests 20 ms apart over 200 s: the minute before the last one holds 3,000 of them.
    let last: ReturnType<typeof slot> | undefined;
    for (let i = 0; i < 10_000; i++) last = slot(`r${i}`, i * 20);
    expect(last).toEqual({ ok: true, remaining: rpm - 3_000 });
    // A burst at that instant is admitted up to the limit, then refused until 140,000 leaves.
    const now = 9_999 * 20;
    for (let i = 0; i < rpm - 3_000; i++) expect(slot(`b${i}`, now).ok).toBe(true);
    expect(slot('over', now)).toMatchObject({ ok: false, limit: 'rpm', remaining: 0, retryAfterSec: 1 });
    expect(slot('later', 200_001)).toEqual({ ok: true, remaining: 0 });
  });
});
