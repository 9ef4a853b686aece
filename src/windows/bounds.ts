import { addDays, dayOf, hourLabel, zonedTime } from './calendar.js';

/**
 * The one definition of a window's bounds, exact in every IANA zone. A window is the run of
 * instants that carry its label (the hour `2026-11-26T14+05:30`, the day `2026-11-26`, the week of
 * Monday `2026-11-23`, the month `2026-11`): it starts at the first instant with the label and ends
 * at the first one after it with another. Wall-clock arithmetic (an hour starts at minute 0, a day
 * at 00:00) gives the bounds on an ordinary day and is checked against the labels; when a clock
 * change falls inside the window (Lord Howe's 30-minute shift, Chatham's at :45, Santiago's and
 * Havana's at midnight) a search over whole seconds finds it. So a cached label (local-day.ts) and
 * a fresh one never disagree, and a day holds every one of its hours, a repeated one included.
 */

export interface Bounds {
  /** First instant of the window (inclusive). */
  start: number;
  /** First instant after it (exclusive). */
  end: number;
}

const SECOND = 1000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The first whole second in [lo, hi] where `test` holds; `test` is false then true over the range. */
function firstWhere(lo: number, hi: number, test: (t: number) => boolean): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = a + Math.floor((b - a) / 2 / SECOND) * SECOND;
    if (test(mid)) b = mid;
    else a = mid + SECOND;
  }
  return b;
}

/** The local hour containing `ms`: its label and its bounds. */
export function hourAt(ms: number, timeZone: string): { id: string } & Bounds {
  const whole = ms - (((ms % SECOND) + SECOND) % SECOND);
  const { id, minute, second } = hourLabel(whole, timeZone);
  const same = (t: number) => hourLabel(t, timeZone).id === id;
  // Where the clock showed minute 0 of this hour at this offset, and where it will show the next.
  const top = whole - (minute * 60 + second) * SECOND;
  const next = top + HOUR_MS;
  const start = same(top) ? top : firstWhere(top, whole, same);
  const end = same(next - SECOND) ? next : firstWhere(whole, next - SECOND, (t) => !same(t));
  return { id, start, end };
}

/** The bounds of an hour label made by hourAt. */
export function hourRange(id: string, timeZone: string): Bounds {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})([+-])(\d{2}):(\d{2})$/.exec(id);
  if (!m) throw new Error(`not an hour period: ${id}`);
  const [, y, mo, d, h, sign, oh, om] = m;
  const offset = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  const top = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h)) - offset * 60_000;
  const same = (t: number) => hourLabel(t, timeZone).id === id;
  const last = top + HOUR_MS - SECOND;
  const inside = same(top) ? top : same(last) ? firstWhere(top, last, same) : undefined;
  if (inside !== undefined) {
    const { start, end } = hourAt(inside, timeZone);
    return { start, end };
  }
  // A label this zone never shows (a reload changed the timezone): its wall-clock hour.
  return { start: top, end: top + HOUR_MS };
}

/** The first instant whose local date is `day` or later (local dates only move forward). */
function dayStart(day: string, timeZone: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const reached = (t: number) => dayOf(t, timeZone) >= day;
  const guess = zonedTime(y, m, d, timeZone);
  if (reached(guess) && !reached(guess - SECOND)) return guess;
  // Midnight did not happen (the clocks jumped over it) or happened twice: search around it.
  let lo = guess - 3 * HOUR_MS;
  let hi = guess + 3 * HOUR_MS;
  for (let i = 0; i < 3 && reached(lo); i++) lo -= DAY_MS;
  for (let i = 0; i < 3 && !reached(hi); i++) hi += DAY_MS;
  return firstWhere(lo, hi, reached);
}

/** The bounds of a local day `YYYY-MM-DD`: 23, 24 or 25 hours (or another length where clocks move so). */
export function dayRange(day: string, timeZone: string): Bounds {
  return { start: dayStart(day, timeZone), end: dayStart(addDays(day, 1), timeZone) };
}

/** The bounds of the local week that starts on Monday `monday`. */
export function weekRange(monday: string, timeZone: string): Bounds {
  return { start: dayStart(monday, timeZone), end: dayStart(addDays(monday, 7), timeZone) };
}

/** The bounds of a local month `YYYY-MM`. */
export function monthRange(month: string, timeZone: string): Bounds {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  return { start: dayStart(`${month}-01`, timeZone), end: dayStart(`${next}-01`, timeZone) };
}
