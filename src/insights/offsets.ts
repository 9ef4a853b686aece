import type { OffsetSegment } from '../store/insight-types.js';
import { localParts } from '../windows/calendar.js';

const HOUR = 3_600_000;

/** The UTC offset of `timeZone` at `ms`, in ms (whole minutes). */
export function offsetAt(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((wall - Math.floor(ms / 1000) * 1000) / 60_000) * 60_000;
}

/**
 * The stretches of [since, until) with one UTC offset in `timeZone`, so that the store can tell
 * local hours with plain integer arithmetic. Offsets change on the hour or half hour in every
 * zone in use, so sampling each hour and refining the change to the minute finds each one.
 */
export function offsetSegments(since: number, until: number, timeZone: string): OffsetSegment[] {
  const segments: OffsetSegment[] = [{ from: since, offsetMs: offsetAt(since, timeZone) }];
  let last = segments[0]?.offsetMs ?? 0;
  for (let t = since + HOUR; t < until + HOUR; t += HOUR) {
    const at = Math.min(t, until);
    const offset = offsetAt(at, timeZone);
    if (offset === last) continue;
    // The change lies in (at - HOUR, at]: find its minute.
    let lo = at - HOUR;
    let hi = at;
    while (hi - lo > 60_000) {
      const mid = lo + Math.max(60_000, Math.floor((hi - lo) / 120_000) * 60_000);
      if (offsetAt(mid, timeZone) === last) lo = mid;
      else hi = mid;
    }
    segments.push({ from: hi, offsetMs: offset });
    last = offset;
  }
  return segments;
}
