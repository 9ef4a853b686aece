import { afterEach, describe, expect, it, vi } from 'vitest';
import { newRequestId } from '../../../src/proxy/request-id.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('are UUID version 7 carrying the current millisecond', () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 10, 26, 12, 0, 0, 123), toFake: ['Date'] });
    const id = newRequestId();
    expect(id).toMatch(V7);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(
      Date.UTC(2026, 10, 26, 12, 0, 0, 123),
    );
  });

  it('sort by time and never repeat, across refills of the random pool', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date'] });
    const ids: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      if (i % 1_000 === 0) vi.setSystemTime(1_700_000_000_000 + i);
      ids.push(newRequestId());
    }
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(V7);
    const firstOfEachMs = ids.filter((_, i) => i % 1_000 === 0);
    expect([...firstOfEachMs].sort()).toEqual(firstOfEachMs);
    expect(ids[4_999]! > ids[0]!).toBe(true);
  });
});
