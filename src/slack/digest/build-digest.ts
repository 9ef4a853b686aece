import type { BillRow } from '../../billing/types.js';
import { ownEntry } from '../../config/own.js';
import type { Config } from '../../config/types.js';
import type { InsightReader } from '../../insights/read-period.js';
import type { BillCheckStore } from '../../store/bill-check-types.js';
import type { DisableStore, RollupRow, SpendReader, UsageStore } from '../../store/types.js';
import { dayRange } from '../../windows/bounds.js';
import { previousDay } from '../../windows/calendar.js';
import { latestBillCheck } from './bill-check-lines.js';
import { computeFlags, type DigestFlag, type KeyHistory } from './digest-flags.js';
import { buildGroupLines, type DigestGroupLine } from './group-lines.js';
import { type DigestInsights, insightLinesOrNote } from './insight-lines.js';
import type { DigestKeyLine, ErrorClass } from './key-line.js';

/**
 * The data of the daily digest: what one team lead reads each morning to answer "which tool
 * spent what yesterday, is anything misbehaving, what should I clean up?". Built from the
 * store's daily rollup (one row per day, key, model and status), never from raw usage
 * records, so a day with a million requests costs a few thousand rows.
 */

export type { DigestFlag, FlagKind } from './digest-flags.js';
export type { DigestKeyLine } from './key-line.js';

export interface Digest {
  /** The local day covered, `YYYY-MM-DD` in `timeZone`. */
  day: string;
  timeZone: string;
  revision: string;
  generatedAt: number;
  total: {
    costUsd: number;
    requests: number;
    errors: number;
    /** Requests that carried no valid key (status 401 `invalid_api_key`). */
    unidentifiedRequests: number;
    previousDayCostUsd: number;
  };
  month: {
    /** `YYYY-MM` of `day`. */
    month: string;
    /** Spend from the 1st through the end of `day`. */
    costUsd: number;
    /** Sum of the monthly limits of the keys that are not disabled; null when none has one. */
    monthlyLimitsUsd: number | null;
  };
  /** Keys with traffic that day, most expensive first. */
  keys: DigestKeyLine[];
  /** Only flags with at least one key, in a fixed order. */
  flags: DigestFlag[];
  /** Every configured group, most expensive first (absent on digests built before groups). */
  groups?: DigestGroupLine[];
  /** The latest bill check up to `day` (docs/bill-check.md), when the store keeps them. */
  billCheck?: BillRow[];
  /** The day's dearest findings and the causes a group's keys share (docs/insights.md). */
  insights?: DigestInsights;
}

/** What the digest reads: the rollup, disables, last use, key hashes in use and group spend. */
export type DigestStore = Pick<UsageStore, 'rollup' | 'lastUsed' | 'queryUsage'> &
  InsightReader &
  Pick<DisableStore, 'listDisabled'> &
  Pick<SpendReader, 'getSpend'> &
  Partial<Pick<BillCheckStore, 'billChecks'>>;

export interface BuildDigestInput {
  store: DigestStore;
  config: Config;
  revision: string;
  day: string;
  now: number;
}

/** The local day `n` days before `day`. */
export function daysBefore(day: string, n: number): string {
  let d = day;
  for (let i = 0; i < n; i++) d = previousDay(d);
  return d;
}

export function errorClassOf(status: number): ErrorClass | null {
  if (status < 400) return null;
  if (status >= 500) return '5xx';
  const s = String(status);
  return s === '401' || s === '403' || s === '404' || s === '429' ? s : 'other';
}

function emptyClasses(): Record<ErrorClass, number> {
  return { '401': 0, '403': 0, '404': 0, '429': 0, '5xx': 0, other: 0 };
}

interface DayAccumulator {
  line: DigestKeyLine;
  modelCost: Map<string, { costUsd: number; requests: number }>;
}

function accumulateDay(rows: RollupRow[], config: Config): Map<string, DayAccumulator> {
  const byKey = new Map<string, DayAccumulator>();
  for (const r of rows) {
    let acc = byKey.get(r.key);
    if (!acc) {
      const dailyLimit = ownEntry(config.keys, r.key)?.limits.dailyUsd;
      acc = {
        line: {
          key: r.key,
          inConfig: Object.hasOwn(config.keys, r.key),
          costUsd: 0,
          requests: 0,
          errors: 0,
          errorsByClass: emptyClasses(),
          dailyLimitUsd: dailyLimit ?? null,
          dailyShare: null,
          topModel: null,
        },
        modelCost: new Map(),
      };
      byKey.set(r.key, acc);
    }
    const line = acc.line;
    line.costUsd += r.costUsd;
    line.requests += r.requests;
    const cls = errorClassOf(r.status);
    if (cls) {
      line.errors += r.requests;
      line.errorsByClass[cls] += r.requests;
    }
    if (r.model) {
      const m = acc.modelCost.get(r.model) ?? { costUsd: 0, requests: 0 };
      m.costUsd += r.costUsd;
      m.requests += r.requests;
      acc.modelCost.set(r.model, m);
    }
  }
  for (const acc of byKey.values()) {
    const line = acc.line;
    if (line.dailyLimitUsd !== null && line.dailyLimitUsd > 0)
      line.dailyShare = line.costUsd / line.dailyLimitUsd;
    let best: { costUsd: number; requests: number } | undefined;
    for (const [model, m] of acc.modelCost) {
      if (!best || m.costUsd > best.costUsd || (m.costUsd === best.costUsd && m.requests > best.requests)) {
        best = m;
        line.topModel = model;
      }
    }
  }
  return byKey;
}

function byCostThenRequests(a: DigestKeyLine, b: DigestKeyLine): number {
  return b.costUsd - a.costUsd || b.requests - a.requests || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

export async function buildDigest(input: BuildDigestInput): Promise<Digest> {
  const { store, config, day, now } = input;
  const month = day.slice(0, 7);
  const monthStart = `${month}-01`;
  const dayBefore = previousDay(day);
  const weekStart = daysBefore(day, 7);
  // One rollup read covers the day, the day before, the 7-day history and the month to date.
  const from = weekStart < monthStart ? weekStart : monthStart;
  const [rows, disabled] = await Promise.all([store.rollup(from, day), store.listDisabled()]);

  const dayRows: RollupRow[] = [];
  let previousDayCostUsd = 0;
  let monthCostUsd = 0;
  const history = new Map<string, KeyHistory>();
  const historyOf = (key: string): KeyHistory => {
    let h = history.get(key);
    if (!h) {
      h = { previousWeekCostUsd: 0, requestsLast7Days: 0, monthCostUsd: 0 };
      history.set(key, h);
    }
    return h;
  };
  const lastWeekStart = daysBefore(day, 6);
  for (const r of rows) {
    if (r.day > day || r.day < from) continue;
    if (r.day === day) dayRows.push(r);
    if (r.day === dayBefore) previousDayCostUsd += r.costUsd;
    const h = historyOf(r.key);
    if (r.day >= monthStart) {
      monthCostUsd += r.costUsd;
      h.monthCostUsd += r.costUsd;
    }
    if (r.day >= weekStart && r.day < day) h.previousWeekCostUsd += r.costUsd;
    if (r.day >= lastWeekStart) h.requestsLast7Days += r.requests;
  }

  const perKey = accumulateDay(dayRows, config);
  let costUsd = 0;
  let requests = 0;
  let errors = 0;
  let unidentifiedRequests = 0;
  const keys: DigestKeyLine[] = [];
  for (const { line } of perKey.values()) {
    costUsd += line.costUsd;
    requests += line.requests;
    errors += line.errors;
    // Requests without a valid key have no name to put in the table; they count in the totals.
    if (line.key === '') unidentifiedRequests += line.requests;
    else keys.push(line);
  }
  keys.sort(byCostThenRequests);

  let monthlyLimitsUsd: number | null = null;
  for (const k of Object.values(config.keys)) {
    if (k.disabled || k.limits.monthlyUsd === undefined) continue;
    monthlyLimitsUsd = (monthlyLimitsUsd ?? 0) + k.limits.monthlyUsd;
  }

  const [flags, , groups, billRows, insights] = await Promise.all([
    computeFlags({ store, config, day, now, keys, history, disabled }),
    addMediaUnits(store, keys, day, config.server.timezone),
    buildGroupLines(store, config, day),
    store.billChecks ? store.billChecks(daysBefore(day, 7), day) : Promise.resolve([]),
    insightLinesOrNote(store, config, day),
  ]);

  return {
    day,
    timeZone: config.server.timezone,
    revision: input.revision,
    generatedAt: now,
    total: { costUsd, requests, errors, unidentifiedRequests, previousDayCostUsd },
    month: { month, costUsd: monthCostUsd, monthlyLimitsUsd },
    keys,
    flags,
    groups,
    ...(billRows.length > 0 ? { billCheck: latestBillCheck(billRows) } : {}),
    insights,
  };
}

/**
 * Each key's image and audio units of the day, on its line. The rollup has no units, so this is
 * one grouped read of the day's records that have some (their own index: the others are not
 * read); only keys that made such requests get them.
 */
async function addMediaUnits(
  store: Pick<UsageStore, 'queryUsage'>,
  keys: DigestKeyLine[],
  day: string,
  timeZone: string,
): Promise<void> {
  if (keys.length === 0) return;
  const { start, end } = dayRange(day, timeZone);
  const rows = await store.queryUsage({ since: start, until: end, by: 'key', media: true }, timeZone);
  const byKey = new Map(rows.map((r) => [r.key ?? '', r]));
  for (const line of keys) {
    const r = byKey.get(line.key);
    if (!r || !(r.images || r.audio_seconds || r.characters)) continue;
    line.media = { images: r.images ?? 0, audioSeconds: r.audio_seconds ?? 0, characters: r.characters ?? 0 };
  }
}
