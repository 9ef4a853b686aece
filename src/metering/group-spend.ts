import type { GroupConfig } from '../config/types.js';
import type { PeriodSpend, SpendReader } from '../store/types.js';
import { groupPeriod } from '../windows/budget-subject.js';

/**
 * The spend of groups in some periods, in one store read: `result.get(group)?.[period]`. A
 * group's spend rows sit beside the keys' under `@name` (windows/budget-subject.ts), and getSpend
 * reads any row its entries name.
 */
export async function groupSpend(
  store: Pick<SpendReader, 'getSpend'>,
  groups: readonly string[],
  periods: readonly string[],
): Promise<Map<string, Record<string, PeriodSpend>>> {
  const out = new Map<string, Record<string, PeriodSpend>>();
  if (groups.length === 0) return out;
  const entries = groups.flatMap((g) => periods.map((p) => groupPeriod(g, p)));
  const spend = await store.getSpend('', entries);
  for (const g of groups) {
    const row: Record<string, PeriodSpend> = {};
    for (const p of periods) row[p] = spend[groupPeriod(g, p)] ?? { spentUsd: 0, reservedUsd: 0 };
    out.set(g, row);
  }
  return out;
}

/** Groups sorted by name, for reports. */
export const sortedGroups = (groups: Record<string, GroupConfig> | undefined): GroupConfig[] =>
  Object.values(groups ?? {}).sort((a, b) => a.name.localeCompare(b.name));
