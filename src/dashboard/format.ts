import { formatUsd } from '../slack/format.js';
import { localParts } from '../windows/calendar.js';

export { formatUsd };

const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-11-26 14:03:09` in the server's timezone. */
export function formatTime(ms: number, timeZone: string, seconds = true): string {
  const p = localParts(ms, timeZone);
  const hm = `${pad(p.hour)}:${pad(p.minute)}`;
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${seconds ? `${hm}:${pad(p.second)}` : hm}`;
}

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatRate(ratio: number | null): string {
  if (ratio === null) return '–';
  if (ratio > 0 && ratio < 0.001) return '<0.1%';
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%`;
}

/** `in 3 days`, `today`, `2 days ago`: relative to now, in whole days. */
export function relativeDays(ms: number, now: number): string {
  const days = Math.round((ms - now) / 86_400_000);
  if (days === 0) return ms >= now ? 'within a day' : 'less than a day ago';
  return days > 0 ? `in ${days} day${days === 1 ? '' : 's'}` : `${-days} day${days === -1 ? '' : 's'} ago`;
}
