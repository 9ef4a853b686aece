/**
 * Budget windows in a timezone: `hourly_usd` resets at the top of each local hour, `daily_usd` at
 * local midnight, `weekly_usd` on Monday at local midnight, `monthly_usd` on the 1st. Periods are
 * identified by their local date (`2026-11-26`), the date of their week's Monday, their month
 * (`2026-11`), or their local hour with its UTC offset (`2026-11-26T14+05:30`): the offset tells
 * apart the two 02:00 hours of a night when the clocks go back, and names the instant the hour
 * starts, which in Asia/Kolkata is at :30 UTC.
 */

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Wall-clock parts of an instant in a timezone. */
export function localParts(ms: number, timeZone: string): LocalParts {
  const out: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return {
    year: out.year ?? 0,
    month: out.month ?? 1,
    day: out.day ?? 1,
    hour: out.hour ?? 0,
    minute: out.minute ?? 0,
    second: out.second ?? 0,
  };
}

/** The instant at which the local wall clock in `timeZone` shows the given date and time. */
export function zonedTime(
  year: number,
  month: number,
  day: number,
  timeZone: string,
  hour = 0,
  minute = 0,
): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  // Two passes of offset correction handle DST transitions.
  let t = guess;
  for (let i = 0; i < 2; i++) {
    const p = localParts(t, timeZone);
    const shown = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    t += guess - shown;
  }
  return t;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `YYYY-MM-DD` of the local day containing `ms`. */
export function dayOf(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** `YYYY-MM` of the local month containing `ms`. */
export function monthOf(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  return `${p.year}-${pad(p.month)}`;
}

/** Start (inclusive) and end (exclusive) instants of a local day `YYYY-MM-DD`. */
export function dayRange(day: string, timeZone: string): { start: number; end: number } {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const start = zonedTime(y, m, d, timeZone);
  const next = new Date(Date.UTC(y, m - 1, d + 1));
  const end = zonedTime(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone);
  return { start, end };
}

/** Start and end instants of a local month `YYYY-MM`. */
export function monthRange(month: string, timeZone: string): { start: number; end: number } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const start = zonedTime(y, m, 1, timeZone);
  const next = new Date(Date.UTC(y, m, 1));
  const end = zonedTime(next.getUTCFullYear(), next.getUTCMonth() + 1, 1, timeZone);
  return { start, end };
}

/** The local day before `day`. */
export function previousDay(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const prev = new Date(Date.UTC(y, m - 1, d - 1));
  return `${prev.getUTCFullYear()}-${pad(prev.getUTCMonth() + 1)}-${pad(prev.getUTCDate())}`;
}

/** Human form of a reset instant: `2026-11-27 00:00 Europe/Berlin`. */
export function formatLocal(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)} ${timeZone}`;
}

/** `YYYY-MM-DD` of the Monday of the week containing the local day `day`. */
export function weekOf(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d));
  t.setUTCDate(d - ((t.getUTCDay() + 6) % 7));
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

/** Start and end instants of the local week starting on Monday `monday`. */
export function weekRange(monday: string, timeZone: string): { start: number; end: number } {
  const [y, m, d] = monday.split('-').map(Number) as [number, number, number];
  const next = new Date(Date.UTC(y, m - 1, d + 7));
  return {
    start: zonedTime(y, m, d, timeZone),
    end: zonedTime(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone),
  };
}

const HOUR_MS = 3_600_000;

/** The next instant after `start` at which the local clock shows minute 0. */
function nextTopOfHour(start: number, timeZone: string): number {
  const t = start + HOUR_MS;
  // Only a zone whose clocks move by half an hour (Australia/Lord_Howe) lands off the top here.
  const minute = localParts(t, timeZone).minute;
  return minute === 0 ? t : t + (60 - minute) * 60_000;
}

const offsetText = (minutes: number) => {
  const a = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
};

/**
 * The local hour containing `ms`: its id (`2026-11-26T14+05:30`) and its start and end instants.
 * The start is where the local clock last showed minute 0, so an offset of 5:30 or 5:45 puts it
 * at :30 or :15 UTC.
 */
export function hourAt(ms: number, timeZone: string): { id: string; start: number; end: number } {
  const whole = ms - (((ms % 1000) + 1000) % 1000);
  const p = localParts(whole, timeZone);
  const start = whole - (p.minute * 60 + p.second) * 1000;
  const offset = Math.round(
    (Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole) / 60_000,
  );
  const id = `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}${offsetText(offset)}`;
  return { id, start, end: nextTopOfHour(start, timeZone) };
}

/** Start and end instants of an hour id made by hourAt. */
export function hourRange(id: string, timeZone: string): { start: number; end: number } {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})([+-])(\d{2}):(\d{2})$/.exec(id);
  if (!m) throw new Error(`not an hour period: ${id}`);
  const [, y, mo, d, h, sign, oh, om] = m;
  const offset = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  const start = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h)) - offset * 60_000;
  return { start, end: nextTopOfHour(start, timeZone) };
}

/**
 * The store periods of the budget windows containing `ms`: `h:<hour id>`, `d:YYYY-MM-DD`,
 * `w:<Monday YYYY-MM-DD>` and `m:YYYY-MM`.
 */
export function periodsAt(
  ms: number,
  timeZone: string,
): { hourly: string; daily: string; weekly: string; monthly: string } {
  const day = dayOf(ms, timeZone);
  return {
    hourly: `h:${hourAt(ms, timeZone).id}`,
    daily: `d:${day}`,
    weekly: `w:${weekOf(day)}`,
    monthly: `m:${monthOf(ms, timeZone)}`,
  };
}

/** When a period (`h:…`, `d:…`, `w:…` or `m:…`) ends, i.e. its limit resets. */
export function periodEnd(period: string, timeZone: string): number {
  const value = period.slice(2);
  switch (period[0]) {
    case 'h':
      return hourRange(value, timeZone).end;
    case 'd':
      return dayRange(value, timeZone).end;
    case 'w':
      return weekRange(value, timeZone).end;
    default:
      return monthRange(value, timeZone).end;
  }
}
