import type { InsightQuery, OffsetSegment } from './insight-types.js';

/**
 * Which rows answer a period's per-client sums (docs/insights.md#cost): whole UTC days from the
 * rollup `usage_insight_days` (SQLite migration 11, PostgreSQL migration 20), the rest from the
 * records. A day the period covers only partly is read from its records when the period holds at
 * most half of it, and otherwise from the rollup less the records of the part outside the period,
 * so no more than half a day of records is read at either end (the digest's local day, a week
 * ending now). Sums add and subtract exactly (counts and tokens are integers; money is snapped to
 * 1e-10 USD after, as every insight sum is), so the findings are those of the records alone.
 *
 * Off-hours are local times of day, and the rollup keeps each UTC hour's requests and cost: an
 * hour entirely inside or outside working hours is taken from the rollup, an hour that a boundary
 * or a UTC offset change cuts (zones at :30 or :45 from UTC) from its records.
 */

/** The thresholds the rollup was built with (src/insights/thresholds.ts); other ones read records only. */
export const ROLLUP_LONG_INPUT_TOKENS = 32_000;
export const ROLLUP_SMALL_TOKENS = 1_000;

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** Records in [from, until), added (sign 1) or taken away (-1); offOnly: only their off-hours sums count. */
export interface RawRange {
  from: number;
  until: number;
  sign: 1 | -1;
  offOnly: boolean;
}

/** Rollup days [from, until) whose off-hours are the UTC hours `hours`. */
export interface OffHoursRun {
  from: number;
  until: number;
  hours: number[];
}

export interface InsightPlan {
  /** The UTC days [from, until) read from the rollup, or null for none. */
  days: { from: number; until: number } | null;
  offHours: OffHoursRun[];
  raw: RawRange[];
}

const floorDay = (ms: number) => ms - (((ms % DAY) + DAY) % DAY);

export function planInsightRead(q: InsightQuery): InsightPlan {
  const recordsOnly: InsightPlan = {
    days: null,
    offHours: [],
    raw: [{ from: q.since, until: q.until, sign: 1, offOnly: false }],
  };
  if (q.longInputTokens !== ROLLUP_LONG_INPUT_TOKENS || q.smallTokens !== ROLLUP_SMALL_TOKENS)
    return recordsOnly;
  const raw: RawRange[] = [];
  const range = (from: number, until: number, sign: 1 | -1) => {
    if (until > from) raw.push({ from, until, sign, offOnly: false });
  };
  let first = floorDay(q.since);
  let last = floorDay(q.until);
  if (first === last) {
    // Inside one UTC day.
    if (q.until - q.since <= DAY / 2) return recordsOnly;
    range(first, q.since, -1);
    range(q.until, first + DAY, -1);
    last = first + DAY;
  } else {
    if (q.since > first) {
      if (first + DAY - q.since <= DAY / 2) {
        range(q.since, first + DAY, 1);
        first += DAY;
      } else range(first, q.since, -1);
    }
    if (q.until > last) {
      if (q.until - last <= DAY / 2) range(last, q.until, 1);
      else {
        range(q.until, last + DAY, -1);
        last += DAY;
      }
    }
  }
  if (last <= first) return { days: null, offHours: [], raw };
  return { days: { from: first, until: last }, offHours: offHourRuns(q, first, last, raw), raw };
}

/** The off-hours of each rollup day, in runs of days alike; cut hours go to `raw` as offOnly ranges. */
function offHourRuns(q: InsightQuery, first: number, last: number, raw: RawRange[]): OffHoursRun[] {
  const runs: OffHoursRun[] = [];
  for (let day = first; day < last; day += DAY) {
    const hours: number[] = [];
    for (let h = 0; h < 24; h++) {
      const at = day + h * HOUR;
      const cls = hourClass(q, at);
      if (cls === 'off') hours.push(h);
      else if (cls === 'cut') raw.push({ from: at, until: at + HOUR, sign: 1, offOnly: true });
    }
    const prev = runs[runs.length - 1];
    if (prev && prev.until === day && prev.hours.join() === hours.join()) prev.until = day + DAY;
    else runs.push({ from: day, until: day + DAY, hours });
  }
  return runs.filter((r) => r.hours.length > 0);
}

/**
 * Whether every instant of the UTC hour from `at` is outside working hours ('off'), inside
 * ('on'), or both ('cut'), with the offsets applied as the record reads apply them
 * (insight-sql.ts: segment i from its `from`, the first one also before it).
 */
function hourClass(q: InsightQuery, at: number): 'on' | 'off' | 'cut' {
  const segments: OffsetSegment[] = q.offsets.length > 0 ? q.offsets : [{ from: q.since, offsetMs: 0 }];
  let offset = segments[0]?.offsetMs ?? 0;
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] as OffsetSegment;
    if (s.from > at && s.from < at + HOUR) return 'cut';
    if (s.from <= at) offset = s.offsetMs;
  }
  const tod = (((at + offset) % DAY) + DAY) % DAY;
  for (const b of [q.dayStartMs, q.dayEndMs, q.dayStartMs + DAY, q.dayEndMs + DAY]) {
    if (b > tod && b < tod + HOUR) return 'cut';
  }
  const local = tod >= DAY ? tod - DAY : tod;
  return local < q.dayStartMs || local >= q.dayEndMs ? 'off' : 'on';
}
