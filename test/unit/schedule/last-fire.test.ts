import { describe, expect, it } from 'vitest';
import { lastFireAtOrBefore } from '../../../src/schedule/last-fire.js';
import { zonedTime } from '../../../src/windows/calendar.js';

const TZ = 'Europe/Berlin';
const berlin = (y: number, m: number, d: number, h: number, mi = 0) => zonedTime(y, m, d, TZ, h, mi);

describe('lastFireAtOrBefore', () => {
  it("returns today's scheduled time once it has passed", () => {
    expect(lastFireAtOrBefore('0 9 * * *', TZ, berlin(2026, 11, 27, 10))).toBe(berlin(2026, 11, 27, 9));
  });

  it("returns yesterday's scheduled time before today's has come", () => {
    expect(lastFireAtOrBefore('0 9 * * *', TZ, berlin(2026, 11, 27, 8, 59))).toBe(berlin(2026, 11, 26, 9));
  });

  it('counts the scheduled instant itself as fired', () => {
    expect(lastFireAtOrBefore('0 9 * * *', TZ, berlin(2026, 11, 27, 9))).toBe(berlin(2026, 11, 27, 9));
  });

  it('reads the expression in the given timezone, across a DST change', () => {
    // 2026-10-25 is 25 hours long in Berlin; 09:00 local is 08:00 UTC that day.
    expect(lastFireAtOrBefore('0 9 * * *', TZ, berlin(2026, 10, 25, 9, 30))).toBe(
      Date.UTC(2026, 9, 25, 8, 0),
    );
    expect(lastFireAtOrBefore('0 9 * * *', TZ, berlin(2026, 10, 26, 8))).toBe(Date.UTC(2026, 9, 25, 8, 0));
    expect(lastFireAtOrBefore('0 9 * * *', 'UTC', Date.UTC(2026, 9, 25, 8, 30))).toBe(
      Date.UTC(2026, 9, 24, 9, 0),
    );
  });

  it('handles a seconds field', () => {
    const now = Date.UTC(2026, 10, 27, 10, 0, 7, 500);
    expect(lastFireAtOrBefore('*/2 * * * * *', 'UTC', now)).toBe(Date.UTC(2026, 10, 27, 10, 0, 6));
  });

  it('skips days the expression does not fire on', () => {
    // 2026-11-26 is a Thursday; the last Monday 09:00 before it is 2026-11-23.
    expect(lastFireAtOrBefore('0 9 * * 1', TZ, berlin(2026, 11, 26, 12))).toBe(berlin(2026, 11, 23, 9));
  });

  it('returns null when the expression did not fire within the lookback', () => {
    expect(lastFireAtOrBefore('0 9 29 2 *', TZ, berlin(2026, 11, 26, 12))).toBeNull();
  });
});
