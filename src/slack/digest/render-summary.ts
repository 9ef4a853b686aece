import { previousDay } from '../../windows/calendar.js';
import type { Digest } from './build-digest.js';
import { formatPercent, formatPercentChange, formatUsd, formatUsdChange } from './money.js';

/** The digest's headline sentences, plain text, shared by the terminal and Slack renderings. */

const count = new Intl.NumberFormat('en-US');

export function hasTraffic(d: Digest): boolean {
  return d.total.requests > 0;
}

/** `$12.34 spent, +$2.00 (+19%) vs $10.34 on 2026-11-25`. */
export function describeSpend(d: Digest): string {
  const { costUsd, previousDayCostUsd: before } = d.total;
  const prev = previousDay(d.day);
  if (before === 0) {
    return `${formatUsd(costUsd)} spent (nothing spent on ${prev})`;
  }
  const delta = costUsd - before;
  return `${formatUsd(costUsd)} spent, ${formatUsdChange(delta)} (${formatPercentChange(delta / before)}) vs ${formatUsd(before)} on ${prev}`;
}

/** `1,234 requests, 56 errors (4%), 12 without a valid key`. */
export function describeRequests(d: Digest): string {
  const { requests, errors, unidentifiedRequests } = d.total;
  let s = `${count.format(requests)} request${requests === 1 ? '' : 's'}, ${count.format(errors)} error${errors === 1 ? '' : 's'}`;
  if (requests > 0 && errors > 0) s += ` (${formatPercent(errors / requests)})`;
  if (unidentifiedRequests > 0) s += `, ${count.format(unidentifiedRequests)} without a valid key`;
  return s;
}

/** `Month to date (2026-11): $123.45 of $500.00 in monthly limits (24%)`. */
export function describeMonth(d: Digest): string {
  const { month, costUsd, monthlyLimitsUsd } = d.month;
  const base = `Month to date (${month}): ${formatUsd(costUsd)}`;
  if (monthlyLimitsUsd === null) return `${base} (no key has a monthly limit)`;
  return `${base} of ${formatUsd(monthlyLimitsUsd)} in monthly limits (${formatPercent(monthlyLimitsUsd > 0 ? costUsd / monthlyLimitsUsd : 0)})`;
}

export function describeNoTraffic(d: Digest): string {
  return `No traffic on ${d.day}: no request reached the gateway that day.`;
}

export function describeFooter(d: Digest): string {
  return `Config revision ${d.revision} · days in ${d.timeZone}`;
}
