import type { Notifier } from '../notifier.js';
import { BUDGET_WINDOW_NAMES, type BudgetWindowName } from '../windows/budget-windows.js';
import type { AlertSender } from './alert-claims.js';
import { budgetAlert } from './alert-messages.js';

type Settled = Parameters<Notifier['requestSettled']>[0];

export interface WindowSpend {
  window: BudgetWindowName;
  spentUsd: number;
  limitUsd: number;
  period: string;
  ratio: number;
}

/**
 * The settled key's limited windows, when one of them may need an alert: at the lowest threshold
 * or over, or a budget refusal. Undefined when there is nothing to check.
 */
export function budgetWindowsToCheck(e: Settled, levels: readonly number[]): WindowSpend[] | undefined {
  const windows = BUDGET_WINDOW_NAMES.flatMap((w) => {
    const s = e.spend[w];
    return s && s.limitUsd > 0 ? [{ window: w, ...s, ratio: s.spentUsd / s.limitUsd }] : [];
  });
  const refusedForBudget = e.record.errorCode === 'insufficient_quota';
  const lowest = levels[levels.length - 1] ?? 1;
  if (windows.some((w) => w.ratio >= lowest) || (refusedForBudget && windows.length > 0)) return windows;
  return undefined;
}

/** Sends each window's highest threshold crossed, once (`levels` sorted highest first). */
export async function sendBudgetAlerts(
  alerts: AlertSender,
  e: Settled,
  windows: readonly WindowSpend[],
  levels: readonly number[],
): Promise<void> {
  const name = e.key.name;
  const refusedForBudget = e.record.errorCode === 'insufficient_quota';
  const lowest = levels[levels.length - 1] ?? 1;
  // A refusal names the window that ran out; it is alerted as exhausted when it is at least
  // at the lowest threshold (else one large request, or requests in flight, were refused).
  // A group's window is not the key's: no key window matches it.
  for (const w of windows) {
    const exhaustedByRefusal = refusedForBudget && w.period === e.refusedPeriod && w.ratio >= lowest;
    const crossed = levels.filter((t) => w.ratio >= t);
    if (exhaustedByRefusal && !crossed.includes(1)) crossed.unshift(1);
    // Only the highest level crossed is ever sent; lower ones are claimed on the way so that a
    // later request does not report them late (whoever claimed the highest already told Slack).
    const [highest, ...lower] = crossed.sort((a, b) => b - a);
    if (highest === undefined) continue;
    await alerts.alertOnce(
      `budget:${name}:${w.period}:${highest}`,
      budgetAlert({
        key: name,
        notify: e.key.notify,
        window: w.window,
        period: w.period,
        spentUsd: w.spentUsd,
        limitUsd: w.limitUsd,
        threshold: highest,
        exhausted: highest >= 1,
      }),
    );
    for (const t of lower) await alerts.claimQuietly(`budget:${name}:${w.period}:${t}`);
  }
}
