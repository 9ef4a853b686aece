import type { Clock } from '../clock.js';
import { ownEntry } from '../config/own.js';
import type { ConfigHolder, GroupConfig, KeyConfig } from '../config/types.js';
import { computeInsights } from '../insights/compute.js';
import type { FindingsCache } from '../insights/findings-cache.js';
import type { InsightReader } from '../insights/read-period.js';
import type { Finding } from '../insights/types.js';
import { groupSpend, sortedGroups } from '../metering/group-spend.js';
import type { DisableView } from '../policy/disables.js';
import { keyStatus } from '../policy/key-status.js';
import { suggestName } from '../policy/suggest-name.js';
import type { DisableRecord, SpendReader } from '../store/types.js';
import { periodsAt } from '../windows/budget-windows.js';
import { dayOf, monthOf } from '../windows/calendar.js';
import { escapeMrkdwn, formatPercent, formatUsd, userMention } from './format.js';

export interface ReportDeps {
  config: ConfigHolder;
  store: SpendReader & InsightReader;
  disables: DisableView;
  clock: Clock;
  /**
   * The findings the dashboard shows, computed in the background (insights/findings-cache.ts):
   * with it /spend NAME never reads a week of records while Slack waits.
   */
  findings?: FindingsCache;
}

const MAX_LINES = 40;
/** /spend NAME explains the key's spend over the week, as `tollgate insights` does by default. */
const INSIGHT_DAYS = 7;

/** The key's dearest finding (docs/insights.md), or nothing when none stands out. */
async function topFinding(deps: ReportDeps, key: string, now: number): Promise<string> {
  const [top] = deps.findings
    ? cachedFindings(deps.findings, deps, key)
    : await computeInsights({
        store: deps.store,
        config: deps.config.current().config,
        since: now - INSIGHT_DAYS * 86_400_000,
        until: now + 1,
        key,
      });
  if (top === 'computing')
    return `\n*Why it costs* (last ${INSIGHT_DAYS} days): computing… ask again in a minute.`;
  if (!top) return '';
  const words = `${top.kind.replace(/_/g, ' ')}, ${formatUsd(top.usd)} (${formatPercent(top.share)} of its spend)`;
  return `\n*Why it costs* (last ${INSIGHT_DAYS} days): ${escapeMrkdwn(words)}. ${escapeMrkdwn(top.detail)}\n→ ${escapeMrkdwn(top.suggestion)}`;
}

/** The key's findings from the shared cache, or 'computing' before its first result. */
function cachedFindings(cache: FindingsCache, deps: ReportDeps, key: string): Array<Finding | 'computing'> {
  const { findings, computing } = cache.peek(deps.config.current().config);
  if (findings === null) return computing ? ['computing'] : [];
  return findings.filter((f) => f.key === key);
}

function against(spent: number, limit: number | undefined): string {
  if (limit === undefined) return `${formatUsd(spent)} (no limit)`;
  return `${formatUsd(spent)} of ${formatUsd(limit)} (${formatPercent(limit > 0 ? spent / limit : 1)})`;
}

/** /spend and /spend NAME: today's and this month's spend, in server.timezone. */
export async function spendReport(deps: ReportDeps, text: string): Promise<string> {
  const cfg = deps.config.current().config;
  const now = deps.clock();
  const tz = cfg.server.timezone;
  const { daily, monthly } = periodsAt(now, tz);
  const when = `today (${dayOf(now, tz)}, ${tz}) · this month (${monthOf(now, tz)})`;
  const name = text.trim().split(/\s+/)[0] ?? '';

  if (name) {
    const key = ownEntry(cfg.keys, name);
    const asGroup = key ? undefined : cfg.groups ? ownEntry(cfg.groups, name) : undefined;
    if (asGroup) return groupSpendReport(deps, asGroup.name, when, [daily, monthly]);
    if (!key) return unknownKey(name, [...Object.keys(cfg.keys), ...Object.keys(cfg.groups ?? {})]);
    const spend = await deps.store.getSpend(name, [daily, monthly]);
    const d = spend[daily] ?? { spentUsd: 0, reservedUsd: 0 };
    const m = spend[monthly] ?? { spentUsd: 0, reservedUsd: 0 };
    const inFlight =
      d.reservedUsd > 0 ? `\n${formatUsd(d.reservedUsd)} is reserved by requests in flight.` : '';
    const group = key.group ? cfg.groups?.[key.group] : undefined;
    const inGroup = group
      ? `\nIn group \`${escapeMrkdwn(group.name)}\`: ${(await groupLines(deps, [group], [daily, monthly])).join('')}`
      : '';
    return (
      `*Spend of \`${name}\`*, ${when}\n` +
      `• today: ${against(d.spentUsd, key.limits.dailyUsd)}\n` +
      `• this month: ${against(m.spentUsd, key.limits.monthlyUsd)}${inFlight}${inGroup}` +
      (await topFinding(deps, name, now))
    );
  }

  const all = await deps.store.getAllSpend([daily, monthly]);
  let today = 0;
  let month = 0;
  const rows: { name: string; today: number; month: number }[] = [];
  for (const [key, periods] of all) {
    const t = periods[daily] ?? 0;
    const mo = periods[monthly] ?? 0;
    today += t;
    month += mo;
    if (t > 0 || mo > 0) rows.push({ name: key, today: t, month: mo });
  }
  rows.sort((a, b) => b.today - a.today || b.month - a.month || a.name.localeCompare(b.name));
  const lines = rows
    .slice(0, MAX_LINES)
    .map(
      (r) => `• \`${escapeMrkdwn(r.name)}\`: ${formatUsd(r.today)} today, ${formatUsd(r.month)} this month`,
    );
  if (rows.length > MAX_LINES) lines.push(`…and ${rows.length - MAX_LINES} more keys`);
  const groups = sortedGroups(cfg.groups);
  const groupPart =
    groups.length > 0 ? `\n*Groups*\n${(await groupLines(deps, groups, [daily, monthly])).join('\n')}` : '';
  return (
    `*Spend*, ${when}\n*Total: ${formatUsd(today)} today, ${formatUsd(month)} this month*` +
    (lines.length > 0 ? `\n${lines.join('\n')}` : '\nNo spend yet.') +
    groupPart
  );
}

/** One line per group: today and this month against the group's limits (the sum of its keys). */
async function groupLines(deps: ReportDeps, groups: GroupConfig[], [daily, monthly]: [string, string]) {
  const spend = await groupSpend(
    deps.store,
    groups.slice(0, MAX_LINES).map((g) => g.name),
    [daily, monthly],
  );
  const lines = groups.slice(0, MAX_LINES).map((g) => {
    const s = spend.get(g.name);
    return (
      `• \`${escapeMrkdwn(g.name)}\`: today ${against(s?.[daily]?.spentUsd ?? 0, g.limits.dailyUsd)}` +
      ` · month ${against(s?.[monthly]?.spentUsd ?? 0, g.limits.monthlyUsd)}`
    );
  });
  if (groups.length > MAX_LINES) lines.push(`…and ${groups.length - MAX_LINES} more groups`);
  return lines;
}

/** /spend GROUP: the group's pot and what each of its keys spent of it. */
async function groupSpendReport(deps: ReportDeps, name: string, when: string, periods: [string, string]) {
  const cfg = deps.config.current().config;
  const group = cfg.groups?.[name] as GroupConfig;
  const members = Object.values(cfg.keys)
    .filter((k) => k.group === name)
    .map((k) => k.name)
    .sort();
  const [line] = await groupLines(deps, [group], periods);
  const all = await deps.store.getAllSpend(periods);
  const keyLines = members
    .slice(0, MAX_LINES)
    .map(
      (k) =>
        `• \`${escapeMrkdwn(k)}\`: ${formatUsd(all.get(k)?.[periods[0]] ?? 0)} today, ${formatUsd(all.get(k)?.[periods[1]] ?? 0)} this month`,
    );
  return (
    `*Spend of group \`${escapeMrkdwn(name)}\`*, ${when}\n${line?.slice(2) ?? ''}\n` +
    (keyLines.length > 0 ? `*Its keys*\n${keyLines.join('\n')}` : 'No key is in this group.')
  );
}

/** Status label of /keys: active, disabled(file), disabled(slack), disabled(admin api) or expired. */
export function statusLabel(key: KeyConfig, override: DisableRecord | undefined, now: number): string {
  switch (keyStatus(key, override, now)) {
    case 'disabled_in_file':
      return 'disabled(file)';
    case 'disabled_override':
      if (override?.source === 'dashboard') return 'disabled(dashboard)';
      if (override?.source === 'circuit_breaker') return 'disabled(breaker)';
      return override?.source === 'admin_api' ? 'disabled(admin api)' : 'disabled(slack)';
    case 'expired':
      return 'expired';
    default:
      return 'active';
  }
}

/** /keys: every key with status, spend against limits and expiry. */
export async function keysReport(deps: ReportDeps): Promise<string> {
  const cfg = deps.config.current().config;
  const now = deps.clock();
  const { daily, monthly } = periodsAt(now, cfg.server.timezone);
  const all = await deps.store.getAllSpend([daily, monthly]);
  const keys = Object.values(cfg.keys).sort((a, b) => a.name.localeCompare(b.name));
  if (keys.length === 0) return 'keys.yaml has no keys yet.';
  const lines = keys.slice(0, MAX_LINES).map((k) => {
    const override = deps.disables.get(k.name);
    const status = statusLabel(k, override, now);
    const s = all.get(k.name);
    const by =
      override && status.startsWith('disabled(') && !k.disabled
        ? ` by ${userMention(override.by)}: ${escapeMrkdwn(override.reason)}`
        : '';
    const expiry = k.expires ? ` · expires ${k.expires}` : '';
    const group = k.group ? ` · group \`${escapeMrkdwn(k.group)}\`` : '';
    return (
      `• \`${k.name}\` *${status}*${by} · today ${against(s?.[daily] ?? 0, k.limits.dailyUsd)}` +
      ` · month ${against(s?.[monthly] ?? 0, k.limits.monthlyUsd)}${group}${expiry}`
    );
  });
  if (keys.length > MAX_LINES) lines.push(`…and ${keys.length - MAX_LINES} more (GET /admin/keys lists all)`);
  const groups = sortedGroups(cfg.groups);
  const groupPart =
    groups.length > 0 ? `\n*Groups*\n${(await groupLines(deps, groups, [daily, monthly])).join('\n')}` : '';
  return `*Keys* (config ${deps.config.current().revision})\n${lines.join('\n')}${groupPart}`;
}

function unknownKey(name: string, names: string[]): string {
  const suggestion = suggestName(name, names);
  const hint = suggestion ? ` Did you mean \`${suggestion}\`?` : ' `/keys` lists the names.';
  return `There is no key named \`${escapeMrkdwn(name)}\` in keys.yaml.${hint}`;
}
