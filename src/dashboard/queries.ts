import type { KeyConfig } from '../config/types.js';
import { type KeyStatus, keyStatus } from '../policy/key-status.js';
import type { AuditEntry, DailyTotal, DisableRecord, UsageRecord } from '../store/types.js';
import { groupPeriod } from '../windows/budget-subject.js';
import {
  BUDGET_WINDOW_NAMES,
  type BudgetWindowName,
  limitOf,
  periodEnd,
  periodsAt,
} from '../windows/budget-windows.js';
import { dayOf, monthOf, previousDay } from '../windows/calendar.js';
import type { Series } from './chart.js';
import type { DashboardDeps } from './deps.js';
import type { RollupCache } from './rollup-cache.js';

export const CHART_DAYS = 30;
const ERROR_DAYS = 7;
const EXPIRING_MS = 7 * 86_400_000;
export const RECENT_REQUESTS = 100;

export type Level = 'ok' | 'warn' | 'over';

/** Spend against one budget window's limit. */
export interface WindowUse {
  spentUsd: number;
  limitUsd: number | undefined;
  ratio: number | null;
  level: Level;
}

export interface KeyRow {
  key: KeyConfig;
  status: KeyStatus;
  override: DisableRecord | undefined;
  today: WindowUse;
  month: WindowUse;
  /** The worse of the two windows. */
  level: Level;
  requests7: number;
  errors7: number;
  errorRate7: number | null;
  /** Last local day with a request within the chart's 30 days. */
  lastActiveDay: string | null;
}

/** Per group (model or key) over the chart's days. */
export interface GroupTotal {
  name: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface Overview {
  now: number;
  timeZone: string;
  days: string[];
  /** First instant of the chart's first day (for CSV links). */
  since: string;
  month: string;
  keys: KeyRow[];
  byKey: Series[];
  byModel: Series[];
  models: GroupTotal[];
  totals: { today: number; month: number; requestsToday: number; errorsToday: number };
  thresholds: { warn: number; over: number };
}

export interface WindowDetail extends WindowUse {
  name: BudgetWindowName;
  /** The group whose shared window this is; absent for the key's own. */
  group?: string;
  reservedUsd: number;
  leftUsd: number | null;
  resetsAt: number;
}

export interface KeyDetail {
  now: number;
  timeZone: string;
  key: KeyConfig;
  status: KeyStatus;
  override: DisableRecord | undefined;
  windows: WindowDetail[];
  days: string[];
  byModel: Series[];
  models: GroupTotal[];
  recent: UsageRecord[];
  audit: AuditEntry[];
}

/** The overview's reads: the spend counters and the rollup (past days from the cache); never the usage table. */
export async function loadOverview(deps: DashboardDeps, rollup: RollupCache): Promise<Overview> {
  const now = deps.clock();
  const cfg = deps.config.current().config;
  const tz = cfg.server.timezone;
  const { daily, monthly } = periodsAt(now, tz);
  const days = lastDays(dayOf(now, tz), CHART_DAYS);
  const range = { fromDay: days[0] ?? '', toDay: days[days.length - 1] ?? '' };
  const [spend, summaries] = await Promise.all([
    deps.store.getAllSpend([daily, monthly]),
    rollup.summaries(days, tz),
  ]);
  const perKey = summaries.flatMap((s) => s.perKey);
  const perModel = summaries.flatMap((s) => s.perModel);
  const thresholds = levels(cfg.slack?.alerts.budgetThresholds);
  const errorSince = days[days.length - ERROR_DAYS] ?? range.fromDay;
  const activity = new Map<string, { requests: number; errors: number; last: string }>();
  for (const t of perKey) {
    const a = activity.get(t.key) ?? { requests: 0, errors: 0, last: t.day };
    if (t.day >= errorSince) {
      a.requests += t.requests;
      a.errors += t.errors;
    }
    if (t.requests > 0 && t.day > a.last) a.last = t.day;
    activity.set(t.key, a);
  }

  const keys = Object.values(cfg.keys).map((key): KeyRow => {
    const s = spend.get(key.name);
    const today = windowUse(s?.[daily] ?? 0, key.limits.dailyUsd, thresholds);
    const month = windowUse(s?.[monthly] ?? 0, key.limits.monthlyUsd, thresholds);
    const a = activity.get(key.name);
    const override = deps.disables.get(key.name);
    return {
      key,
      status: keyStatus(key, override, now),
      override,
      today,
      month,
      level: worse(today.level, month.level),
      requests7: a?.requests ?? 0,
      errors7: a?.errors ?? 0,
      errorRate7: a && a.requests > 0 ? a.errors / a.requests : null,
      lastActiveDay: a ? a.last : null,
    };
  });
  const todays = summaries[summaries.length - 1]?.perKey ?? [];
  let month = 0;
  for (const s of spend.values()) month += s[monthly] ?? 0;
  return {
    now,
    timeZone: tz,
    days,
    since: range.fromDay,
    month: monthOf(now, tz),
    keys,
    byKey: toSeries(perKey, days, (t) => t.key),
    byModel: toSeries(perModel, days, (t) => t.model),
    models: groupTotals(perModel, (t) => t.model),
    totals: {
      today: todays.reduce((sum, t) => sum + t.costUsd, 0),
      month,
      requestsToday: todays.reduce((sum, t) => sum + t.requests, 0),
      errorsToday: todays.reduce((sum, t) => sum + t.errors, 0),
    },
    thresholds,
  };
}

/** A key's page: its counters, its rollup by model, its latest records and its audit entries. */
export async function loadKey(deps: DashboardDeps, rollup: RollupCache, key: KeyConfig): Promise<KeyDetail> {
  const now = deps.clock();
  const cfg = deps.config.current().config;
  const tz = cfg.server.timezone;
  const periods = periodsAt(now, tz);
  const today = dayOf(now, tz);
  const days = lastDays(today, CHART_DAYS);
  // The key's own windows (daily and monthly always, hourly and weekly when limited), then the
  // limited windows of its group: a request must fit every one of them.
  const group =
    key.group !== undefined && Object.hasOwn(cfg.groups ?? {}, key.group)
      ? cfg.groups?.[key.group]
      : undefined;
  const wanted: {
    name: BudgetWindowName;
    period: string;
    entry: string;
    limit: number | undefined;
    group?: string;
  }[] = [];
  for (const name of BUDGET_WINDOW_NAMES) {
    const limit = limitOf(key.limits, name);
    if (limit !== undefined || name === 'daily' || name === 'monthly')
      wanted.push({ name, period: periods[name], entry: periods[name], limit });
  }
  if (group) {
    for (const name of BUDGET_WINDOW_NAMES) {
      const limit = limitOf(group.limits, name);
      if (limit !== undefined)
        wanted.push({
          name,
          period: periods[name],
          entry: groupPeriod(group.name, periods[name]),
          limit,
          group: group.name,
        });
    }
  }
  const [spend, perModel, recent, audit] = await Promise.all([
    deps.store.getSpend(
      key.name,
      wanted.map((w) => w.entry),
    ),
    rollup.rows(days, tz, key.name),
    deps.store.recentUsage(key.name, RECENT_REQUESTS),
    deps.store.keyAudit(key.name, 50),
  ]);
  const thresholds = levels(cfg.slack?.alerts.budgetThresholds);
  const detail = (w: (typeof wanted)[number]): WindowDetail => {
    const spent = spend[w.entry]?.spentUsd ?? 0;
    const reserved = spend[w.entry]?.reservedUsd ?? 0;
    return {
      name: w.name,
      ...(w.group !== undefined ? { group: w.group } : {}),
      ...windowUse(spent, w.limit, thresholds),
      reservedUsd: reserved,
      leftUsd: w.limit === undefined ? null : Math.max(0, w.limit - spent - reserved),
      resetsAt: periodEnd(w.period, tz),
    };
  };
  const override = deps.disables.get(key.name);
  return {
    now,
    timeZone: tz,
    key,
    status: keyStatus(key, override, now),
    override,
    windows: wanted.map(detail),
    days,
    byModel: toSeries(perModel, days, (t) => t.model),
    models: groupTotals(perModel, (t) => t.model),
    recent,
    audit,
  };
}

export function isExpiringSoon(key: KeyConfig, now: number): boolean {
  return key.expiresAt !== undefined && key.expiresAt > now && key.expiresAt - now <= EXPIRING_MS;
}

/** Amber at the lowest alert threshold, red at the highest (or at the limit when there is one threshold). */
function levels(budgetThresholds: number[] | undefined): { warn: number; over: number } {
  const t = [...(budgetThresholds ?? [0.8, 1])].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const warn = t[0] ?? 0.8;
  const last = t[t.length - 1] ?? 1;
  return { warn, over: t.length > 1 ? last : Math.max(1, warn) };
}

function windowUse(
  spentUsd: number,
  limitUsd: number | undefined,
  t: { warn: number; over: number },
): WindowUse {
  if (limitUsd === undefined) return { spentUsd, limitUsd, ratio: null, level: 'ok' };
  const ratio = limitUsd > 0 ? spentUsd / limitUsd : spentUsd > 0 ? 1 : 0;
  return { spentUsd, limitUsd, ratio, level: ratio >= t.over ? 'over' : ratio >= t.warn ? 'warn' : 'ok' };
}

function worse(a: Level, b: Level): Level {
  const rank = { ok: 0, warn: 1, over: 2 };
  return rank[a] >= rank[b] ? a : b;
}

/** The `n` local days ending with `last`, oldest first. */
export function lastDays(last: string, n: number): string[] {
  const out = [last];
  while (out.length < n) out.unshift(previousDay(out[0] ?? last));
  return out;
}

function toSeries(totals: DailyTotal[], days: string[], groupOf: (t: DailyTotal) => string): Series[] {
  const index = new Map(days.map((d, i) => [d, i]));
  const byGroup = new Map<string, number[]>();
  for (const t of totals) {
    const i = index.get(t.day);
    if (i === undefined) continue;
    const group = groupOf(t);
    let values = byGroup.get(group);
    if (!values) {
      values = days.map(() => 0);
      byGroup.set(group, values);
    }
    values[i] = (values[i] ?? 0) + t.costUsd;
  }
  return [...byGroup].map(([name, values]) => ({ name, values }));
}

function groupTotals(totals: DailyTotal[], groupOf: (t: DailyTotal) => string): GroupTotal[] {
  const out = new Map<string, GroupTotal>();
  for (const t of totals) {
    const name = groupOf(t);
    const g = out.get(name) ?? {
      name,
      requests: 0,
      errors: 0,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
    };
    g.requests += t.requests;
    g.errors += t.errors;
    g.inputTokens += t.inputTokens;
    g.outputTokens += t.outputTokens;
    g.costUsd += t.costUsd;
    out.set(name, g);
  }
  return [...out.values()];
}
