import type { GroupConfig, KeyConfig, KeyLimits } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { BudgetStore, BudgetWindow, ReserveResult } from '../store/types.js';
import { groupOf, groupPeriod } from '../windows/budget-subject.js';
import { BUDGET_WINDOWS, periodEnd, windowOfPeriod } from '../windows/budget-windows.js';
import { formatLocal } from '../windows/calendar.js';
import type { LocalDay } from '../windows/local-day.js';
import { storeUnavailable } from './store-unavailable.js';

export interface BudgetPlan {
  /** Windows with a limit the reservation must fit in: the key's and its group's. */
  windows: BudgetWindow[];
  /**
   * Every period entry the cost is charged to: the day, the week and the month of the key (and
   * of its group, as `@group/…` entries), limited or not; the hour only where an hourly limit
   * asks for it (an hour is short, so a limit added by a reload counts from then).
   */
  periods: string[];
}

function planOf(
  limits: KeyLimits,
  local: LocalDay,
  entry: (period: string) => string,
  out: BudgetPlan,
): void {
  const ids = { h: local.hour, d: local.day, w: local.week, m: local.month };
  for (const { prefix, limit } of BUDGET_WINDOWS) {
    const period = entry(`${prefix}:${ids[prefix]}`);
    const limitUsd = limits[limit];
    if (limitUsd !== undefined) out.windows.push({ period, limitUsd });
    if (prefix !== 'h' || limitUsd !== undefined) out.periods.push(period);
  }
}

/** The budget windows of a key, and of its group, at a local instant in the server's timezone. */
export function planBudget(key: KeyConfig, local: LocalDay, group?: GroupConfig): BudgetPlan {
  const plan: BudgetPlan = { windows: [], periods: [] };
  planOf(key.limits, local, (p) => p, plan);
  if (group) planOf(group.limits, local, (p) => groupPeriod(group.name, p), plan);
  return plan;
}

/** The group a key's requests draw from under a config, if any (validate makes sure it exists). */
export function groupOfKey(key: KeyConfig, groups: Record<string, GroupConfig> | undefined) {
  return key.group === undefined ? undefined : groups?.[key.group];
}

/** A refused reservation is retried at a smaller amount at most this often (see `fit`). */
const FIT_ATTEMPTS = 3;

/**
 * Reserves the request's maximum cost in every limited window of the key and its group at once,
 * or refuses with who has spent how much, what the request may cost and when the limit resets:
 * 429 with `Retry-After` (seconds until that window resets) and `x-should-retry: false`, so SDKs
 * do not retry a spent budget. `fit`, given the USD still free in the window that refused, may
 * offer a smaller amount to try instead (a request whose output bound the gateway chose, lowered
 * to what fits); it resolves with the amount reserved.
 */
export async function reserveBudget(
  store: Pick<BudgetStore, 'reserve'>,
  r: {
    id: string;
    key: KeyConfig;
    amountUsd: number;
    plan: BudgetPlan;
    leaseUntil: number;
    timeZone: string;
    now: number;
    fit?: (roomUsd: number) => number | undefined;
    /** Why the request's maximum cost is what it is, when that is not plain from the request. */
    why?: string;
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
  const group = groupOf(result.period);
  const period = group === undefined ? result.period : result.period.slice(group.length + 2);
  const which = windowOfPeriod(period)?.name ?? 'daily';
  const resetsAt = periodEnd(period, r.timeZone);
  const usd = moneyShowingOverflow(result.spentUsd, result.reservedUsd, amountUsd, result.limitUsd);
  const held = result.reservedUsd > 0 ? ` (plus ${usd(result.reservedUsd)} held by requests in flight)` : '';
  const who = group === undefined ? `key '${r.key.name}'` : `group '${group}' of key '${r.key.name}'`;
  throw new GatewayError(
    'insufficient_quota',
    `${who} has spent ${usd(result.spentUsd)}${held} of its ${usd(result.limitUsd)} ${which} limit; ` +
      `this request may cost up to ${usd(amountUsd)}${r.why ? ` (${r.why})` : ''}; ` +
      `the limit resets at ${formatLocal(resetsAt, r.timeZone)}`,
    { headers: spentBudgetHeaders(resetsAt, r.now), refusedPeriod: result.period },
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
