import { describe, expect, it } from 'vitest';
import {
  BUDGET_WINDOW_NAMES,
  limitOf,
  periodBounds,
  periodOf,
  periodsAt,
  windowOfPeriod,
} from '../../../src/windows/budget-windows.js';

describe('the four budget windows', () => {
  it('lists hourly, daily, weekly and monthly, shortest first', () => {
    expect(BUDGET_WINDOW_NAMES).toEqual(['hourly', 'daily', 'weekly', 'monthly']);
  });

  it('names the window of a store period and of no other string', () => {
    expect(windowOfPeriod('h:2026-11-26T14+05:30')?.name).toBe('hourly');
    expect(windowOfPeriod('d:2026-11-26')?.name).toBe('daily');
    expect(windowOfPeriod('w:2026-11-23')?.name).toBe('weekly');
    expect(windowOfPeriod('m:2026-11')?.name).toBe('monthly');
    expect(windowOfPeriod('@backend/d:2026-11-26')).toBeUndefined();
    expect(windowOfPeriod('day')).toBeUndefined();
  });

  it('reads each window its own limit and makes the period periodsAt makes', () => {
    const limits = { hourlyUsd: 1, dailyUsd: 5, monthlyUsd: 50 };
    expect(BUDGET_WINDOW_NAMES.map((w) => limitOf(limits, w))).toEqual([1, 5, undefined, 50]);
    const at = Date.parse('2026-11-26T12:00:00Z');
    const periods = periodsAt(at, 'Europe/Berlin');
    expect(periodOf('daily', '2026-11-26')).toBe(periods.daily);
    for (const w of BUDGET_WINDOW_NAMES) {
      const { start, end } = periodBounds(periods[w], 'Europe/Berlin');
      expect(start).toBeLessThanOrEqual(at);
      expect(at).toBeLessThan(end);
    }
  });
});
