import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dayRange, hourAt, hourRange } from '../../../src/windows/bounds.js';
import { periodEnd, periodsAt } from '../../../src/windows/budget-windows.js';
import { addDays, dayOf, zonedTime } from '../../../src/windows/calendar.js';
import { createLocalDayCache } from '../../../src/windows/local-day.js';

const HOUR = 3_600_000;

/**
 * Zones whose clock changes are odd, each with the instants of a change in 2026: Lord Howe moves
 * by 30 minutes, Chatham at :45, Santiago and Havana at midnight; Berlin and Kolkata as controls.
 */
const CHANGES: Record<string, number[]> = {
  'Australia/Lord_Howe': [Date.parse('2026-04-04T15:00:00Z'), Date.parse('2026-10-03T15:30:00Z')],
  'Pacific/Chatham': [Date.parse('2026-04-04T14:00:00Z'), Date.parse('2026-09-26T14:00:00Z')],
  'America/Santiago': [Date.parse('2026-04-05T03:00:00Z'), Date.parse('2026-09-06T04:00:00Z')],
  'America/Havana': [Date.parse('2026-03-08T05:00:00Z'), Date.parse('2026-11-01T05:00:00Z')],
  'Europe/Berlin': [Date.parse('2026-03-29T01:00:00Z'), Date.parse('2026-10-25T01:00:00Z')],
  'Asia/Kolkata': [Date.parse('2026-06-01T00:00:00Z')],
};
const ZONES = Object.keys(CHANGES);

/** An instant within 30 hours of one of a zone's clock changes, to the millisecond. */
const nearAChange = fc.constantFrom(...ZONES).chain((tz) =>
  fc.record({
    tz: fc.constant(tz),
    at: fc
      .tuple(fc.constantFrom(...(CHANGES[tz] as number[])), fc.integer({ min: -30 * HOUR, max: 30 * HOUR }))
      .map(([change, delta]) => change + delta),
  }),
);

describe('budget window bounds in zones with odd clock changes', () => {
  it('puts every instant inside its hour, and the hours end to end with no gap or overlap', () => {
    fc.assert(
      fc.property(nearAChange, ({ tz, at }) => {
        const hour = hourAt(at, tz);
        expect(hour.start).toBeLessThanOrEqual(at);
        expect(at).toBeLessThan(hour.end);
        expect(hourAt(hour.start, tz).id).toBe(hour.id);
        expect(hourAt(hour.end - 1, tz).id).toBe(hour.id);
        expect(hourAt(hour.end, tz).start).toBe(hour.end);
        expect(hourAt(hour.start - 1, tz).end).toBe(hour.start);
        expect(hour.end - hour.start).toBeLessThanOrEqual(HOUR);
        expect(hourRange(hour.id, tz)).toEqual({ start: hour.start, end: hour.end });
      }),
      { numRuns: 600 },
    );
  });

  it('gives the same labels from the cache as computed fresh, at any later instant', () => {
    fc.assert(
      fc.property(nearAChange, fc.integer({ min: 0, max: 3 * HOUR }), ({ tz, at }, later) => {
        const cached = createLocalDayCache();
        cached(at, tz);
        expect(cached(at + later, tz)).toEqual(createLocalDayCache()(at + later, tz));
        const fresh = periodsAt(at + later, tz);
        expect(cached(at + later, tz).hour).toBe(fresh.hourly.slice(2));
        expect(cached(at + later, tz).day).toBe(fresh.daily.slice(2));
      }),
      { numRuns: 600 },
    );
  });

  it('makes each day contain its instants, start where the day before ends, and hold all its hours', () => {
    fc.assert(
      fc.property(nearAChange, ({ tz, at }) => {
        const day = dayOf(at, tz);
        const { start, end } = dayRange(day, tz);
        expect(start).toBeLessThanOrEqual(at);
        expect(at).toBeLessThan(end);
        expect(dayOf(start, tz)).toBe(day);
        expect(dayOf(end - 1, tz)).toBe(day);
        expect(dayOf(start - 1, tz)).toBe(addDays(day, -1));
        expect(dayRange(addDays(day, -1), tz).end).toBe(start);
        expect(periodEnd(`d:${day}`, tz)).toBe(end);
        // Walking the day hour by hour lands exactly on its end, every hour on that day.
        let t = start;
        while (t < end) {
          const hour = hourAt(t, tz);
          expect(hour.start).toBe(t);
          expect(dayOf(hour.end - 1, tz)).toBe(day);
          t = hour.end;
        }
        expect(t).toBe(end);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the clock changes the issue names', () => {
  it('ends the Lord Howe hour before the clocks go forward after 60 minutes, not 90', () => {
    const tz = 'Australia/Lord_Howe';
    // 2026-10-04 02:00 +10:30 becomes 02:30 +11:00 (15:30 UTC).
    const one = hourAt(Date.parse('2026-10-03T15:00:00Z'), tz);
    expect(one).toEqual({
      id: '2026-10-04T01+10:30',
      start: Date.parse('2026-10-03T14:30:00Z'),
      end: Date.parse('2026-10-03T15:30:00Z'),
    });
    expect(hourAt(one.end, tz)).toEqual({
      id: '2026-10-04T02+11:00',
      start: Date.parse('2026-10-03T15:30:00Z'),
      end: Date.parse('2026-10-03T16:00:00Z'),
    });
  });

  it('ends the Chatham hour at the change at 02:45, not at 04:00 on the new clock', () => {
    const tz = 'Pacific/Chatham';
    // 2026-09-27 02:45 +12:45 becomes 03:45 +13:45 (14:00 UTC).
    expect(hourAt(Date.parse('2026-09-26T13:50:00Z'), tz)).toMatchObject({
      id: '2026-09-27T02+12:45',
      end: Date.parse('2026-09-26T14:00:00Z'),
    });
  });

  it('keeps the last hour of the day before Santiago and Havana skip midnight in that day', () => {
    // Santiago: 2026-09-06 00:00 -04 becomes 01:00 -03 (04:00 UTC); Havana: 2026-03-08 00:00 -05
    // becomes 01:00 -04 (05:00 UTC). The day before ends at the change, 24 hours long.
    for (const [tz, day, change] of [
      ['America/Santiago', '2026-09-05', '2026-09-06T04:00:00Z'],
      ['America/Havana', '2026-03-07', '2026-03-08T05:00:00Z'],
    ] as const) {
      const { start, end } = dayRange(day, tz);
      expect(end, tz).toBe(Date.parse(change));
      expect(end - start, tz).toBe(24 * HOUR);
      expect(dayOf(end - 1, tz), tz).toBe(day);
    }
  });

  it('gives the day Santiago and Havana set the clocks back 25 hours, the repeated hour included', () => {
    for (const [tz, day] of [
      ['America/Santiago', '2026-04-04'],
      ['America/Havana', '2026-11-01'],
    ] as const) {
      const [y, m, d] = day.split('-').map(Number) as [number, number, number];
      const { start, end } = dayRange(day, tz);
      expect(end - start, tz).toBe(25 * HOUR);
      expect(start, tz).toBeLessThanOrEqual(zonedTime(y, m, d, tz));
    }
  });
});
