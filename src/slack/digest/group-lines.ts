import type { Config } from '../../config/types.js';
import { groupSpend, sortedGroups } from '../../metering/group-spend.js';
import type { SpendReader } from '../../store/types.js';
import { periodOf } from '../../windows/budget-windows.js';
import { formatUsd } from './money.js';

/**
 * The digest's group lines: what each group's pot took that day, from the group's own budget
 * rows (what its limits were checked against), with its keys as the config has them now.
 */
export interface DigestGroupLine {
  group: string;
  costUsd: number;
  dailyLimitUsd: number | null;
  /** costUsd / dailyLimitUsd; null without a daily limit. */
  dailyShare: number | null;
  keys: number;
}

export async function buildGroupLines(
  store: Pick<SpendReader, 'getSpend'>,
  config: Config,
  day: string,
): Promise<DigestGroupLine[]> {
  const groups = sortedGroups(config.groups);
  if (groups.length === 0) return [];
  const period = periodOf('daily', day);
  const spend = await groupSpend(
    store,
    groups.map((g) => g.name),
    [period],
  );
  const members = new Map<string, number>();
  for (const k of Object.values(config.keys))
    if (k.group) members.set(k.group, (members.get(k.group) ?? 0) + 1);
  return groups
    .map((g) => {
      const costUsd = spend.get(g.name)?.[period]?.spentUsd ?? 0;
      const limit = g.limits.dailyUsd;
      return {
        group: g.name,
        costUsd,
        dailyLimitUsd: limit ?? null,
        dailyShare: limit !== undefined && limit > 0 ? costUsd / limit : null,
        keys: members.get(g.name) ?? 0,
      };
    })
    .sort((a, b) => b.costUsd - a.costUsd || a.group.localeCompare(b.group));
}

/** `backend: $12.34 of $50.00 daily limit (25%), 3 keys`. */
export function describeGroupLine(g: DigestGroupLine): string {
  const limit =
    g.dailyLimitUsd === null
      ? ''
      : ` of ${formatUsd(g.dailyLimitUsd)} daily limit (${Math.round((g.dailyShare ?? 1) * 100)}%)`;
  return `${g.group}: ${formatUsd(g.costUsd)}${limit}, ${g.keys} key${g.keys === 1 ? '' : 's'}`;
}
