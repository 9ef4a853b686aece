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
});
