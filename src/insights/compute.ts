import type { Config } from '../config/types.js';
import type {
  InsightGroup,
  InsightStore,
  OffsetSegment,
  PrefixGroup,
  RepeatRecord,
} from '../store/insight-types.js';
import type { UsageStore } from '../store/types.js';
import { dayOf } from '../windows/calendar.js';
import { foldByKey, type KeyFacts } from './key-facts.js';
import { offsetSegments } from './offsets.js';
import { repeatFindings } from './rules-repeats.js';
import { cacheUnused, noLimit, sharedKey } from './rules-setup.js';
import { expensiveModel, longContext, offHours, type RuleContext, verboseOutput } from './rules-spend.js';
import {
  DAY_END_HOUR,
  DAY_START_HOUR,
  LONG_INPUT_TOKENS,
  MIN_SHARE,
  MIN_USD,
  PREFIX_REPEATS,
  SMALL_TOKENS,
} from './thresholds.js';
import type { Draft, Finding } from './types.js';

export interface InsightsInput {
  store: InsightStore & Pick<UsageStore, 'dailyTotals'>;
  /** Limits, models and prices; without it only the rules that need none apply. */
  config: Config | undefined;
  since: number;
  until: number;
  key?: string;
  /** What every key of the period shares, read once when the keys are computed one by one. */
  period?: PeriodFacts;
}

/** The period's UTC offsets and each key's dearest day: the same for every key of one period. */
export interface PeriodFacts {
  offsets: OffsetSegment[];
  /** Every key's dearest local day (all keys), or read per key (with its facts) when absent. */
  maxDayUsd?: Map<string, number>;
}

/**
 * PeriodFacts for every key of [since, until): one read of the daily rollup for all of them, or
 * none (`fewKeys`: a caller that computes a few keys of many reads each one's days with it).
 */
export async function periodFacts(
  input: Omit<InsightsInput, 'key' | 'period'>,
  fewKeys = false,
): Promise<PeriodFacts> {
  const timeZone = input.config?.server.timezone ?? 'UTC';
  const offsets = offsetSegments(input.since, input.until, timeZone);
  return fewKeys ? { offsets } : { offsets, maxDayUsd: await dearestDays(input, null) };
}

const HOUR = 3_600_000;

/**
 * Why each key costs what it costs in [since, until): the findings of docs/insights.md, most
 * expensive key first and each key's findings by dollars, without those under MIN_USD or MIN_SHARE.
 */
export async function computeInsights(input: InsightsInput): Promise<Finding[]> {
  const { store, config, since, until } = input;
  const timeZone = config?.server.timezone ?? 'UTC';
  const { period } = input;
  const facts = await store.insightFacts({
    since,
    until,
    ...(input.key === undefined ? {} : { key: input.key }),
    longInputTokens: LONG_INPUT_TOKENS,
    smallTokens: SMALL_TOKENS,
    dayStartMs: DAY_START_HOUR * HOUR,
    dayEndMs: DAY_END_HOUR * HOUR,
    offsets: period?.offsets ?? offsetSegments(since, until, timeZone),
    minPrefixRepeats: PREFIX_REPEATS,
  });
  // One order on both stores, so that sums in floating point come out the same to the last bit.
  const groups = [...facts.groups].sort((a, b) => compareGroups(a, b));
  const keys = [...foldByKey(groups).values()].sort(
    (a, b) => b.total.costUsd - a.total.costUsd || (a.key < b.key ? -1 : 1),
  );
  const repeats = byKey(facts.repeats);
  const prefixes = byKey(facts.prefixes);
  const maxDay = period?.maxDayUsd ?? (await dearestDays(input, keys));
  const ctx: RuleContext = {
    config,
    at: until - 1,
    periodMs: until - since,
    inputAtRank: (key, rank) => store.inputTokensAtRank(key, since, until, rank),
  };
  // Every key's rules at once: the ranks long_context asks for arrive at the store together,
  // which PostgreSQL reads in one statement (postgres/insight-queries.ts), not a round trip each.
  const perKey = await Promise.all(
    keys.map(async (facts) =>
      shown(
        await keyDrafts(facts, ctx, repeats.get(facts.key) ?? [], prefixes.get(facts.key) ?? [], {
          timeZone,
          maxDayUsd: maxDay.get(facts.key) ?? 0,
        }),
        facts.total.costUsd,
      ),
    ),
  );
  return perKey.flat();
}

async function keyDrafts(
  facts: KeyFacts,
  ctx: RuleContext,
  repeats: RepeatRecord[],
  prefixes: PrefixGroup[],
  more: { timeZone: string; maxDayUsd: number },
): Promise<Draft[]> {
  const key = ctx.config?.keys[facts.key];
  const drafts: Array<Draft | null> = [
    await longContext(facts, ctx),
    ...repeatFindings(facts.key, repeats),
    verboseOutput(facts, ctx, key),
    offHours(facts, ctx, more.timeZone),
    expensiveModel(facts, ctx, key),
    cacheUnused(facts.key, prefixes, ctx),
    sharedKey(facts),
    noLimit(facts, ctx.config, key, more.maxDayUsd),
  ];
  return drafts.filter((d): d is Draft => d !== null);
}

/** The drafts worth showing, with their share, dearest first. */
function shown(drafts: Draft[], totalUsd: number): Finding[] {
  if (totalUsd <= 0) return [];
  return drafts
    .map((d) => ({ ...d, share: Math.min(1, d.usd / totalUsd) }))
    .filter((f) => f.usd >= MIN_USD && f.share >= MIN_SHARE)
    .sort((a, b) => b.usd - a.usd)
    .map(({ key, kind, usd, share, count, detail, suggestion }) => ({
      key,
      kind,
      usd,
      share,
      count,
      detail,
      suggestion,
    }));
}

const text = (s: string | null) => s ?? '';
function compareGroups(a: InsightGroup, b: InsightGroup): number {
  for (const [x, y] of [
    [a.key, b.key],
    [a.model, b.model],
    [text(a.userAgent), text(b.userAgent)],
    [text(a.ip), text(b.ip)],
  ] as const) {
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function byKey<T extends { key: string }>(rows: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const list = out.get(r.key);
    if (list) list.push(r);
    else out.set(r.key, [r]);
  }
  return out;
}

/**
 * Each key's dearest local day in the period, from the daily rollup (for no_limit's suggestion):
 * of `keys` when given (none asked when none is without limits), of every key otherwise.
 */
async function dearestDays(
  input: Omit<InsightsInput, 'period'>,
  keys: KeyFacts[] | null,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const unlimited = keys?.filter((k) => {
    const key = input.config?.keys[k.key];
    return key && key.limits.dailyUsd === undefined && key.limits.monthlyUsd === undefined;
  });
  if (unlimited?.length === 0) return out;
  const timeZone = input.config?.server.timezone ?? 'UTC';
  const days = await input.store.dailyTotals({
    fromDay: dayOf(input.since, timeZone),
    toDay: dayOf(input.until - 1, timeZone),
    ...(input.key === undefined ? {} : { key: input.key }),
  });
  const perDay = new Map<string, number>();
  for (const d of days) {
    const id = `${d.key}\u0000${d.day}`;
    perDay.set(id, (perDay.get(id) ?? 0) + d.costUsd);
  }
  for (const [id, usd] of perDay) {
    const key = id.slice(0, id.indexOf('\u0000'));
    out.set(key, Math.max(out.get(key) ?? 0, usd));
  }
  return out;
}
