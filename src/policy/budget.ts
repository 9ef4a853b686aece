import type { KeyConfig } from '../config/types.js';
import { dayRange, formatLocal, monthRange } from '../config/windows.js';
import { GatewayError } from '../errors.js';
import type { LocalDay } from '../metering/local-day.js';
import type { BudgetWindow, ReserveResult, Store } from '../store/types.js';
import { storeUnavailable } from './store-unavailable.js';

export interface BudgetPlan {
  /** Windows with a limit the reservation must fit in. */
  windows: BudgetWindow[];
  /** Every period the cost is charged to: always the day and the month, limited or not. */
  periods: string[];
}

/** The key's budget windows on a local day: `d:<day>` and `m:<month>` in the server's timezone. */
export function planBudget(key: KeyConfig, local: LocalDay): BudgetPlan {
  const daily = `d:${local.day}`;
  const monthly = `m:${local.month}`;
  const windows: BudgetWindow[] = [];
  if (key.limits.dailyUsd !== undefined) windows.push({ period: daily, limitUsd: key.limits.dailyUsd });
  if (key.limits.monthlyUsd !== undefined) windows.push({ period: monthly, limitUsd: key.limits.monthlyUsd });
  return { windows, periods: [daily, monthly] };
}

/** When a period's limit resets: the next local midnight, or the 1st of the next month. */
export function periodEnd(period: string, timeZone: string): number {
  const value = period.slice(2);
  return period.startsWith('d:') ? dayRange(value, timeZone).end : monthRange(value, timeZone).end;
}

/**
 * Reserves the request's maximum cost in every limited window at once, or refuses with how much
 * the key has spent, what the request may cost and when the limit resets.
 */
export async function reserveBudget(
  store: Store,
  r: {
    id: string;
    key: KeyConfig;
    amountUsd: number;
    plan: BudgetPlan;
    leaseUntil: number;
    timeZone: string;
  },
): Promise<void> {
  let result: ReserveResult;
  try {
    result = await store.reserve({
      id: r.id,
      key: r.key.name,
      amountUsd: r.amountUsd,
      windows: r.plan.windows,
      periods: r.plan.periods,
      leaseUntil: r.leaseUntil,
    });
  } catch (err) {
    throw storeUnavailable(err, r.key.name);
  }
  if (result.ok) return;
  const which = result.period.startsWith('d:') ? 'daily' : 'monthly';
  const usd = moneyShowingOverflow(result.spentUsd, result.reservedUsd, r.amountUsd, result.limitUsd);
  const held = result.reservedUsd > 0 ? ` (plus ${usd(result.reservedUsd)} held by requests in flight)` : '';
  throw new GatewayError(
    'insufficient_quota',
    `key '${r.key.name}' has spent ${usd(result.spentUsd)}${held} of its ${usd(result.limitUsd)} ${which} limit; ` +
      `this request may cost up to ${usd(r.amountUsd)}; the limit resets at ${formatLocal(periodEnd(result.period, r.timeZone), r.timeZone)}`,
  );
}

/**
 * A dollar format with as few decimals (2 to 6) as show the limit as written, a non-zero cost as
 * non-zero, and why the request does not fit: "$4.98 of $5.00; up to $0.06" stays as it is,
 * while "$0.00 of $0.01; up to $0.01" (which reads as if it fits) becomes
 * "$0.000 of $0.010; up to $0.012".
 */
export function moneyShowingOverflow(
  spent: number,
  reserved: number,
  cost: number,
  limit: number,
): (usd: number) => string {
  let decimals = 2;
  const at = (x: number) => Number(x.toFixed(decimals));
  const readable = () =>
    Math.abs(at(limit) - limit) < 1e-12 &&
    (cost === 0 || at(cost) > 0) &&
    at(spent) + at(reserved) + at(cost) > at(limit);
  while (decimals < 6 && !readable()) decimals++;
  return (usd) => `$${usd.toFixed(decimals)}`;
}
