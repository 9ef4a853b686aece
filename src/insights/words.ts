import { formatPercent, formatUsd } from '../slack/digest/money.js';

/** The few ways a finding writes its numbers: the digest's money and percentages, grouped counts. */
export const usd = formatUsd;
export const percent = formatPercent;

const counts = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
export const count = (n: number): string => counts.format(n);

/** `1 request`, `3 requests`. */
export const plural = (n: number, one: string, many = `${one}s`): string =>
  `${count(n)} ${n === 1 ? one : many}`;

/** A limit to suggest: `x` rounded up to 1, 2 or 5 times a power of ten ($3.40 → $5, $120 → $200). */
export function niceCeil(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x - 1e-12) return Number((m * p).toPrecision(12));
  return 10 * p;
}

/** Minutes and seconds of a span, for "212 times in 9 minutes". */
export function span(ms: number): string {
  if (ms < 60_000) return plural(Math.max(1, Math.round(ms / 1000)), 'second');
  return plural(Math.round(ms / 60_000), 'minute');
}
