import { describe, expect, it } from 'vitest';
import {
  dayOf,
  dayRange,
  formatLocal,
  monthOf,
  monthRange,
  periodsAt,
  previousDay,
} from '../../../src/config/windows.js';

describe('budget windows in a timezone', () => {
  it('puts 23:59 and 00:01 local time on different days in Europe/Berlin', () => {
    const tz = 'Europe/Berlin';
    const before = Date.parse('2026-11-26T22:59:00Z'); // 23:59 in Berlin (UTC+1)
    const after = Date.parse('2026-11-26T23:01:00Z'); // 00:01 on the 27th
    expect(dayOf(before, tz)).toBe('2026-11-26');
    expect(dayOf(after, tz)).toBe('2026-11-27');
    expect(periodsAt(after, tz)).toEqual({ daily: 'd:2026-11-27', monthly: 'm:2026-11' });
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
