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

/** A refused reservation is retried at a smaller amount at most this often (see `fit`). */
const FIT_ATTEMPTS = 3;

/**
 * Reserves the request's maximum cost in every limited window at once, or refuses with how much
 * the key has spent, what the request may cost and when the limit resets: 429 with `Retry-After`
 * (seconds until that window resets) and `x-should-retry: false`, so SDKs do not retry a spent
 * budget. `fit`, given the USD still free in the window that refused, may offer a smaller amount
 * to try instead (a request whose output bound the gateway chose, lowered to what fits); it
 * resolves with the amount reserved.
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
    now: number;
    fit?: (roomUsd: number) => number | undefined;
  },
): Promise<number> {
  let result: ReserveResult;
  let amountUsd = r.amountUsd;
  for (let attempt = 0; ; attempt++) {
    try {
      result = await store.reserve({
        id: r.id,
        key: r.key.name,
        amountUsd,
        windows: r.plan.windows,
        periods: r.plan.periods,
        leaseUntil: r.leaseUntil,
      });
    } catch (err) {
      throw storeUnavailable(err, r.key.name);
    }
    if (result.ok) return amountUsd;
    const smaller =
      attempt < FIT_ATTEMPTS ? r.fit?.(result.limitUsd - result.spentUsd - result.reservedUsd) : undefined;
    if (smaller === undefined || !(smaller > 0 && smaller < amountUsd)) break;
    amountUsd = smaller;
  }
  const which = result.period.startsWith('d:') ? 'daily' : 'monthly';
  const usd = moneyShowingOverflow(result.spentUsd, result.reservedUsd, amountUsd, result.limitUsd);
  const held = result.reservedUsd > 0 ? ` (plus ${usd(result.reservedUsd)} held by requests in flight)` : '';
  const resetsAt = periodEnd(result.period, r.timeZone);
  throw new GatewayError(
    'insufficient_quota',
    `key '${r.key.name}' has spent ${usd(result.spentUsd)}${held} of its ${usd(result.limitUsd)} ${which} limit; ` +
      `this request may cost up to ${usd(amountUsd)}; the limit resets at ${formatLocal(resetsAt, r.timeZone)}`,
    { headers: spentBudgetHeaders(resetsAt, r.now) },
  );
}

/** `Retry-After` in whole seconds until the window resets (at least 1), and no SDK retries. */
export function spentBudgetHeaders(resetsAt: number, now: number): Record<string, string> {
  return {
    'retry-after': String(Math.max(1, Math.ceil((resetsAt - now) / 1000))),
    'x-should-retry': 'false',
  };
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
