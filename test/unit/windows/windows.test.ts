import { describe, expect, it } from 'vitest';
import { dayRange, hourAt, monthRange } from '../../../src/windows/bounds.js';
import { periodEnd, periodsAt } from '../../../src/windows/budget-windows.js';
import { dayOf, formatLocal, monthOf, previousDay, weekOf } from '../../../src/windows/calendar.js';

describe('budget windows in a timezone', () => {
  it('puts 23:59 and 00:01 local time on different days in Europe/Berlin', () => {
    const tz = 'Europe/Berlin';
    const before = Date.parse('2026-11-26T22:59:00Z'); // 23:59 in Berlin (UTC+1)
    const after = Date.parse('2026-11-26T23:01:00Z'); // 00:01 on the 27th
    expect(dayOf(before, tz)).toBe('2026-11-26');
    expect(dayOf(after, tz)).toBe('2026-11-27');
    expect(periodsAt(after, tz)).toMatchObject({ daily: 'd:2026-11-27', monthly: 'm:2026-11' });
  });

  it('makes a day 23 hours long when the clocks go forward and 25 when they go back', () => {
    const spring = dayRange('2026-03-29', 'Europe/Berlin');
    const autumn = dayRange('2026-10-25', 'Europe/Berlin');
    expect((spring.end - spring.start) / 3_600_000).toBe(23);
    expect((autumn.end - autumn.start) / 3_600_000).toBe(25);
    expect(spring.start).toBe(Date.parse('2026-03-28T23:00:00Z'));
  });

  it('starts a month on the 1st at local midnight and rolls the year over', () => {
    const r = monthRange('2026-12', 'America/New_York');
    expect(r.start).toBe(Date.parse('2026-12-01T05:00:00Z'));
    expect(r.end).toBe(Date.parse('2027-01-01T05:00:00Z'));
    expect(monthOf(Date.parse('2027-01-01T04:59:59Z'), 'America/New_York')).toBe('2026-12');
  });

  it('steps back across month and year boundaries', () => {
    expect(previousDay('2027-01-01')).toBe('2026-12-31');
    expect(previousDay('2028-03-01')).toBe('2028-02-29');
  });

  it('formats a reset time with the zone name', () => {
    const { end } = dayRange('2026-11-26', 'Europe/Berlin');
    expect(formatLocal(end, 'Europe/Berlin')).toBe('2026-11-27 00:00 Europe/Berlin');
  });
});

describe('hourly and weekly windows in a timezone', () => {
  it('starts the hours of Asia/Kolkata (UTC+5:30) at :30 UTC, the top of the local hour', () => {
    const tz = 'Asia/Kolkata';
    const before = Date.parse('2026-11-26T08:29:59Z'); // 13:59:59 local
    const after = Date.parse('2026-11-26T08:30:00Z'); // 14:00:00 local
    expect(periodsAt(before, tz).hourly).toBe('h:2026-11-26T13+05:30');
    expect(periodsAt(after, tz).hourly).toBe('h:2026-11-26T14+05:30');
    expect(hourAt(before, tz)).toMatchObject({
      start: Date.parse('2026-11-26T07:30:00Z'),
      end: Date.parse('2026-11-26T08:30:00Z'),
    });
    expect(periodEnd('h:2026-11-26T14+05:30', tz)).toBe(Date.parse('2026-11-26T09:30:00Z'));
    expect(formatLocal(periodEnd('h:2026-11-26T14+05:30', tz), tz)).toBe('2026-11-26 15:00 Asia/Kolkata');
  });

  it('starts the hours of Asia/Kathmandu (UTC+5:45) at :15 UTC', () => {
    const tz = 'Asia/Kathmandu';
    expect(periodsAt(Date.parse('2026-11-26T08:14:59Z'), tz).hourly).toBe('h:2026-11-26T13+05:45');
    expect(periodsAt(Date.parse('2026-11-26T08:15:00Z'), tz).hourly).toBe('h:2026-11-26T14+05:45');
  });

  it('keeps the two 02:00 hours of the night Berlin sets its clocks back apart, an hour each', () => {
    const tz = 'Europe/Berlin';
    // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC.
    const first = hourAt(Date.parse('2026-10-25T00:30:00Z'), tz);
    const second = hourAt(Date.parse('2026-10-25T01:30:00Z'), tz);
    expect(first.id).toBe('2026-10-25T02+02:00');
    expect(second.id).toBe('2026-10-25T02+01:00');
    expect(first.end - first.start).toBe(3_600_000);
    expect(second.start).toBe(first.end);
    expect(periodEnd(`h:${first.id}`, tz)).toBe(Date.parse('2026-10-25T01:00:00Z'));
  });

  it('goes from 01:00 straight to 03:00 on the night Berlin sets its clocks forward', () => {
    const tz = 'Europe/Berlin';
    // 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    const one = hourAt(Date.parse('2026-03-29T00:59:59Z'), tz);
    const three = hourAt(Date.parse('2026-03-29T01:00:00Z'), tz);
    expect(one.id).toBe('2026-03-29T01+01:00');
    expect(three.id).toBe('2026-03-29T03+02:00');
    expect(one.end).toBe(three.start);
  });

  it('starts weeks on Monday at local midnight, also across a month and a year', () => {
    expect(weekOf('2026-11-29')).toBe('2026-11-23'); // a Sunday
    expect(weekOf('2026-11-30')).toBe('2026-11-30'); // a Monday
    expect(weekOf('2027-01-02')).toBe('2026-12-28');
    const tz = 'America/New_York';
    expect(periodsAt(Date.parse('2026-12-01T04:59:59Z'), tz).weekly).toBe('w:2026-11-30'); // Mon 23:59:59
    expect(periodsAt(Date.parse('2026-11-30T04:59:59Z'), tz).weekly).toBe('w:2026-11-23'); // Sun 23:59:59
    expect(periodsAt(Date.parse('2026-11-30T05:00:00Z'), tz).weekly).toBe('w:2026-11-30'); // Mon 00:00
    expect(periodEnd('w:2026-11-23', tz)).toBe(Date.parse('2026-11-30T05:00:00Z'));
    // The week the clocks go back in New York (Sunday 2026-11-01) is an hour longer.
    expect(periodEnd('w:2026-11-02', tz) - periodEnd('w:2026-10-26', tz)).toBe(7 * 86_400_000);
    expect(periodEnd('w:2026-10-26', tz) - periodEnd('w:2026-10-19', tz)).toBe(7 * 86_400_000 + 3_600_000);
  });
});
