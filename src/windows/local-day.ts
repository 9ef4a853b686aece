import { dayRange, hourAt } from './bounds.js';
import { dayOf, monthOf, weekOf } from './calendar.js';

export interface LocalDay {
  /** `YYYY-MM-DD` in the timezone. */
  day: string;
  /** `YYYY-MM` in the timezone. */
  month: string;
  /** `YYYY-MM-DD` of the week's Monday. */
  week: string;
  /** The local hour's id (`2026-11-26T14+05:30`, see bounds.ts). */
  hour: string;
}

/**
 * The local hour, day, week and month of an instant, remembered until the hour ends: every
 * request needs them (budget periods, the record's day) and Intl's formatToParts was a measurable
 * share of the request path's CPU. One cache per gateway; a different timezone (after a reload)
 * simply recomputes.
 */
export function createLocalDayCache(): (ms: number, timeZone: string) => LocalDay {
  let cached: (LocalDay & { timeZone: string; start: number; end: number }) | undefined;
  return (ms, timeZone) => {
    if (cached && cached.timeZone === timeZone && ms >= cached.start && ms < cached.end) return cached;
    const day = dayOf(ms, timeZone);
    const range = dayRange(day, timeZone);
    const hour = hourAt(ms, timeZone);
    cached = {
      day,
      month: monthOf(ms, timeZone),
      week: weekOf(day),
      hour: hour.id,
      timeZone,
      // An hour never crosses midnight, except in a zone whose midnight is not on the hour.
      start: Math.max(range.start, hour.start),
      end: Math.min(range.end, hour.end),
    };
    return cached;
  };
}
