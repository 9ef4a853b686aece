import cron from 'node-cron';
import { dayOf, localParts, previousDay, zonedTime } from '../windows/calendar.js';

/**
 * The most recent instant at or before `now` at which a cron expression fires in `timeZone`:
 * what catch-up after downtime needs ("was the digest that was due by now ever sent?").
 * node-cron only looks forward, so this walks back day by day and, within a matching day, from
 * the latest hour:minute:second of the expression down. node-cron's own matcher decides the
 * day fields (day of month, month, day of week, `L`, `#`), so both agree on what "fires" means.
 * Returns null when the expression does not fire within `lookbackDays`.
 */
export function lastFireAtOrBefore(
  expression: string,
  timeZone: string,
  now: number,
  lookbackDays = 31,
): number | null {
  const fields = cron.parse(expression);
  const task = cron.createTask(expression, () => {}, { timezone: timeZone });
  try {
    const match = (t: number) => task.match(new Date(t));
    const desc = (xs: number[]) => [...xs].sort((a, b) => b - a);
    const hours = desc(fields.hour);
    const minutes = desc(fields.minute);
    const seconds = desc(fields.second);
    const at = (y: number, mo: number, d: number, h: number, mi: number, s: number) =>
      zonedTime(y, mo, d, timeZone, h, mi) + s * 1000;
    const today = localParts(now, timeZone);
    const nowTuple = today.hour * 3600 + today.minute * 60 + today.second;

    let day = dayOf(now, timeZone);
    for (let i = 0; i <= lookbackDays; i++, day = previousDay(day)) {
      const [y, mo, d] = day.split('-').map(Number) as [number, number, number];
      // Day fields are the same for every time of a day: probe the day's first and last
      // candidates (either may fall in a DST gap) before walking its times.
      const first = at(y, mo, d, hours.at(-1) ?? 0, minutes.at(-1) ?? 0, seconds.at(-1) ?? 0);
      const last = at(y, mo, d, hours[0] ?? 0, minutes[0] ?? 0, seconds[0] ?? 0);
      if (!match(first) && !match(last)) continue;
      for (const h of hours) {
        if (i === 0 && h * 3600 > nowTuple) continue;
        for (const mi of minutes) {
          if (i === 0 && h * 3600 + mi * 60 > nowTuple) continue;
          for (const s of seconds) {
            if (i === 0 && h * 3600 + mi * 60 + s > nowTuple) continue;
            const t = at(y, mo, d, h, mi, s);
            if (t <= now && match(t)) return t;
          }
        }
      }
    }
    return null;
  } finally {
    void task.destroy();
  }
}
