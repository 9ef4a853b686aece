import { dayOf, dayRange, monthOf } from '../config/windows.js';

export interface LocalDay {
  /** `YYYY-MM-DD` in the timezone. */
  day: string;
  /** `YYYY-MM` in the timezone. */
  month: string;
}

/**
 * The local day and month of an instant, remembered until the day ends: every request needs them
 * (budget periods, the record's day) and Intl's formatToParts was a measurable share of the request
 * path's CPU. One cache per gateway; a different timezone (after a reload) simply recomputes.
 */
export function createLocalDayCache(): (ms: number, timeZone: string) => LocalDay {
  let cached: (LocalDay & { timeZone: string; start: number; end: number }) | undefined;
  return (ms, timeZone) => {
    if (cached && cached.timeZone === timeZone && ms >= cached.start && ms < cached.end) return cached;
    const day = dayOf(ms, timeZone);
    const { start, end } = dayRange(day, timeZone);
    cached = { day, month: monthOf(ms, timeZone), timeZone, start, end };
    return cached;
  };
}
