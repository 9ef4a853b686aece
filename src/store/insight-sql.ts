import { type InsightPlan, planInsightRead, type RawRange } from './insight-plan.js';
import {
  INSIGHT_SUMS,
  type InsightGroup,
  type InsightQuery,
  type InsightSum,
  type PrefixGroup,
  type RepeatRecord,
} from './insight-types.js';

/**
 * The SQL of the insight aggregates, one text for both stores: the period, thresholds and time
 * zone offsets are integers written into the statement (checked here), the key is the only
 * parameter (`$1` on PostgreSQL, `?` on SQLite). PostgreSQL's numeric sums come back as strings
 * and are read with rowOf* below on both stores, so both give the same numbers.
 */

const DAY = 86_400_000;
const HOUR = 3_600_000;
const floorDay = (ms: number) => ms - (((ms % DAY) + DAY) % DAY);

function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`insight query: ${n} is not an integer`);
  return String(n);
}

type Placeholder = '?' | '$1';

function where(q: InsightQuery, p: Placeholder, alias = ''): string {
  const a = alias === '' ? '' : `${alias}.`;
  const key = q.key === undefined ? `${a}key <> ''` : `${a}key = ${p}`;
  return `${a}ts >= ${int(q.since)} AND ${a}ts < ${int(q.until)} AND ${key}`;
}

/**
 * The period of the fingerprint reads, served by the partial indexes of SQLite migration 10 and
 * PostgreSQL migration 16, which hold only the rows they need in the order they group by. SQLite
 * would pick the time index for them (the only range it sees) and sort every record of the
 * period, so there `+ts` takes the time out of its choice; PostgreSQL's planner weighs both
 * itself and plans worse without the range (measured: bench/insights.ts).
 */
function whereByFingerprint(q: InsightQuery, p: Placeholder): string {
  if (p === '$1') return where(q, p);
  const key = q.key === undefined ? `key <> ''` : `key = ${p}`;
  return `+ts >= ${int(q.since)} AND +ts < ${int(q.until)} AND ${key}`;
}

/** Local ms after midnight of `ts`, with the offset of the segment it falls in. */
function localTimeOfDay(q: InsightQuery): string {
  const segments = q.offsets.length > 0 ? q.offsets : [{ from: q.since, offsetMs: 0 }];
  let offset = int(segments[segments.length - 1]?.offsetMs ?? 0);
  for (let i = segments.length - 2; i >= 0; i--) {
    const next = segments[i + 1];
    offset = `CASE WHEN ts < ${int(next?.from ?? 0)} THEN ${int(segments[i]?.offsetMs ?? 0)} ELSE ${offset} END`;
  }
  // +7 days keeps the sum positive before the remainder for any offset (-14 h … +14 h).
  return `((ts + ${offset} + 604800000) % 86400000)`;
}

/** The per-record sums of one group of records, as named columns (rowOfGroup reads them). */
function recordSums(q: InsightQuery): string {
  const long = `input_tokens >= ${int(q.longInputTokens)}`;
  const small = `input_tokens > 0 AND input_tokens < ${int(q.smallTokens)} AND output_tokens < ${int(q.smallTokens)}`;
  const capped = 'output_limit > 0 AND output_tokens >= output_limit';
  const tod = localTimeOfDay(q);
  const off = `(${tod} < ${int(q.dayStartMs)} OR ${tod} >= ${int(q.dayEndMs)})`;
  const when = (cond: string, value: string) => `sum(CASE WHEN ${cond} THEN ${value} ELSE 0 END)`;
  return `count(*) AS requests,
    ${when('status >= 400', '1')} AS errors, ${when('input_tokens > 0', '1')} AS with_input,
    sum(input_tokens) AS input_tokens, sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens, sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd,
    ${when(long, '1')} AS long_requests, ${when(long, 'cost_usd')} AS long_cost_usd,
    ${when(small, '1')} AS small_requests, ${when(small, 'input_tokens')} AS small_input_tokens,
    ${when(small, 'cached_tokens')} AS small_cached_tokens, ${when(small, 'cache_write_tokens')} AS small_cache_write_tokens,
    ${when(small, 'output_tokens')} AS small_output_tokens, ${when(small, 'cost_usd')} AS small_cost_usd,
    ${when(capped, '1')} AS capped_requests, ${when(capped, 'cost_usd')} AS capped_cost_usd,
    ${when(off, '1')} AS off_hours_requests, ${when(off, 'cost_usd')} AS off_hours_cost_usd`;
}

/** Every record of the period, grouped (no rollup): what the rollup path must equal. */
export function groupsSql(q: InsightQuery, p: Placeholder): string {
  return `SELECT key, coalesce(model, '') AS model, user_agent, ip, ${recordSums(q)}
    FROM usage WHERE ${where(q, p)}
    GROUP BY key, model, user_agent, ip`;
}

/** The rollup's sums, in the columns recordSums names (migration 11's column order on SQLite). */
export const ROLLUP_SUMS = [
  'requests',
  'errors',
  'with_input',
  'input_tokens',
  'cached_tokens',
  'cache_write_tokens',
  'output_tokens',
  'cost_usd',
  'long_requests',
  'long_cost_usd',
  'small_requests',
  'small_input_tokens',
  'small_cached_tokens',
  'small_cache_write_tokens',
  'small_output_tokens',
  'small_cost_usd',
  'capped_requests',
  'capped_cost_usd',
] as const;

function rollupGroupsSql(q: InsightQuery, p: Placeholder, plan: InsightPlan): string | null {
  if (!plan.days) return null;
  const off = (column: 'n' | 'c') =>
    plan.offHours.length === 0
      ? '0'
      : `CASE ${plan.offHours
          .map(
            (r) =>
              `WHEN day >= ${int(r.from)} AND day < ${int(r.until)} THEN ${r.hours.map((h) => `${column}${int(h)}`).join(' + ')}`,
          )
          .join(' ')} ELSE 0 END`;
  const key = q.key === undefined ? `key <> ''` : `key = ${p}`;
  return `SELECT 1 AS sign, 0 AS off_only, key, model, user_agent, ip,
    ${ROLLUP_SUMS.map((c) => `sum(${c}) AS ${c}`).join(', ')},
    sum(${off('n')}) AS off_hours_requests, sum(${off('c')}) AS off_hours_cost_usd
    FROM usage_insight_days WHERE day >= ${int(plan.days.from)} AND day < ${int(plan.days.until)} AND ${key}
    GROUP BY key, model, user_agent, ip`;
}

function rangeGroupsSql(q: InsightQuery, p: Placeholder, r: RawRange): string {
  const key = q.key === undefined ? `key <> ''` : `key = ${p}`;
  return `SELECT ${r.sign} AS sign, ${r.offOnly ? 1 : 0} AS off_only, key, coalesce(model, '') AS model,
    coalesce(user_agent, '') AS user_agent, coalesce(ip, '') AS ip, ${recordSums(q)}
    FROM usage WHERE ts >= ${int(r.from)} AND ts < ${int(r.until)} AND ${key}
    GROUP BY 3, 4, 5, 6`;
}

/**
 * The per-client sums of a period as parts to add up (insight-plan.ts): the rollup's whole days
 * and the records of the rest, in one statement so that both stores read them in one snapshot.
 * Each part names the key once: `keyUses` is how many times a `?` store must pass it.
 */
export function plannedGroupsSql(q: InsightQuery, p: Placeholder): { sql: string; keyUses: number } {
  const plan = q.recordsOnly ? planRecordsOnly(q) : planInsightRead(q);
  const parts = [rollupGroupsSql(q, p, plan), ...plan.raw.map((r) => rangeGroupsSql(q, p, r))].filter(
    (s): s is string => s !== null,
  );
  return { sql: parts.join('\nUNION ALL\n'), keyUses: q.key === undefined ? 0 : parts.length };
}

const planRecordsOnly = (q: InsightQuery): InsightPlan => ({
  days: null,
  offHours: [],
  raw: [{ from: q.since, until: q.until, sign: 1, offOnly: false }],
});

/** Adds up the parts of plannedGroupsSql into one group per key, model and client. */
export function combineGroups(rows: readonly Raw[]): InsightGroup[] {
  const out = new Map<string, InsightGroup>();
  for (const r of rows) {
    const g = rowOfGroup(r);
    const id = `${g.key}\u0000${g.model}\u0000${g.userAgent ?? ''}\u0000${g.ip ?? ''}`;
    let into = out.get(id);
    if (!into) {
      into = { ...rowOfGroup({ key: g.key, model: g.model, user_agent: g.userAgent, ip: g.ip }) };
      out.set(id, into);
    }
    const sign = num(r.sign);
    const fields = num(r.off_only) === 1 ? OFF_FIELDS : SUMMED_FIELDS;
    for (const f of fields) into[f] += sign * g[f];
  }
  const groups: InsightGroup[] = [];
  for (const g of out.values()) {
    // A client whose every record of a rollup day lies outside the period.
    if (g.requests <= 0) continue;
    // + 0: a sum taken back to nothing is 0, not -0.
    for (const f of USD_FIELDS) g[f] = usd(g[f]) + 0;
    groups.push({ ...g, userAgent: g.userAgent === '' ? null : g.userAgent, ip: g.ip === '' ? null : g.ip });
  }
  return groups;
}

type SummedField = InsightSum;
const SUMMED_FIELDS = INSIGHT_SUMS;
const OFF_FIELDS: readonly SummedField[] = ['offHoursRequests', 'offHoursCostUsd'];
const USD_FIELDS: readonly SummedField[] = SUMMED_FIELDS.filter((f) => f.endsWith('Usd'));

/**
 * The keys before a given key, or from it on: every key's repeats lie in one of the two halves,
 * read side by side (postgres/insight-queries.ts). The key is the parameter, so not with `key`.
 */
export type KeyHalf = 'below' | 'from';

/**
 * Every record of a fingerprint its key sent at least twice in the period, oldest first. The
 * repeated pairs come from the fingerprint index alone (it holds key, fingerprint and time); the
 * records of each are then read from the same index's narrow range, so only the few repeated
 * requests are read from the table, never the whole period. On SQLite the pairs are the outer
 * loop (CROSS JOIN keeps that order) and the index is named: the (key, ts) index would read the
 * key's whole period for each pair.
 */
export function repeatsSql(q: InsightQuery, p: Placeholder, keys?: KeyHalf): string {
  const half = keys === undefined ? '' : ` AND key ${keys === 'below' ? '<' : '>='} ${p}`;
  const pairs = `SELECT key, request_fp FROM usage WHERE ${whereByFingerprint(q, p)}${half} AND request_fp IS NOT NULL
      GROUP BY key, request_fp HAVING count(*) >= 2`;
  const period = `u.ts >= ${int(q.since)} AND u.ts < ${int(q.until)}`;
  if (p === '?') {
    return `SELECT u.key, u.request_fp, u.ts, u.status, u.error_code, u.cost_usd
    FROM (${pairs}) r CROSS JOIN usage u INDEXED BY usage_key_request_fp
      ON u.key = r.key AND u.request_fp = r.request_fp
    WHERE u.request_fp IS NOT NULL AND ${period}
    ORDER BY u.key, u.request_fp, u.ts`;
  }
  // PostgreSQL guesses a third of the fingerprints repeated (they are a few) and would hash the
  // pairs against a scan of the whole period, running the grouping once per parallel worker: a
  // LATERAL that cannot be pulled up (OFFSET 0) keeps the probe an index range per pair.
  return `SELECT x.key, x.request_fp, x.ts, x.status, x.error_code, x.cost_usd
    FROM (${pairs}) r CROSS JOIN LATERAL (
      SELECT u.key, u.request_fp, u.ts, u.status, u.error_code, u.cost_usd FROM usage u
      WHERE u.key = r.key AND u.request_fp = r.request_fp AND ${period} OFFSET 0) x
    ORDER BY x.key, x.request_fp, x.ts`;
}

/**
 * Long prompt prefixes sent again without cache reads, per key and model: read from the covering
 * index of SQLite migration 11 and PostgreSQL migration 20 (every column is in it), grouped in
 * its order.
 */
export function prefixesSql(q: InsightQuery, p: Placeholder): string {
  return `SELECT key, coalesce(model, '') AS model, count(*) AS prefixes, sum(requests) AS requests,
      sum(prefix_tokens) AS prefix_tokens, sum(cached_tokens) AS cached_tokens, sum(cost_usd) AS cost_usd
    FROM (SELECT key, prefix_fp, model, count(*) AS requests,
        sum(prefix_tokens) AS prefix_tokens, sum(cached_tokens) AS cached_tokens, sum(cost_usd) AS cost_usd
      FROM usage WHERE ${whereByFingerprint(q, p)} AND prefix_fp IS NOT NULL AND status < 400
      GROUP BY key, prefix_fp, model
      HAVING count(*) >= ${int(q.minPrefixRepeats)} AND sum(cached_tokens) = 0) g
    GROUP BY key, coalesce(model, '')`;
}

/**
 * Each key's spend in [since, until) or a little more, from the rollup's hourly cost alone
 * (usage_insight_days: c0…c23 per UTC hour, cost_usd per UTC day): every UTC hour the period
 * touches counts whole, so the sum is exact (to float rounding) when both ends are whole UTC
 * hours (a local day in a zone on whole hours) and never less than the records' spend otherwise
 * (costs are never negative, src/store/money-guard.ts). A finding's dollars are part of its key's
 * spend, so this bounds them without reading a record (the digest's top findings,
 * src/slack/digest/insight-lines.ts). A day cut short is its hours, or the day less the hours
 * left out when those are fewer (each column read costs).
 */
export function spendCeilingsSql(since: number, until: number): string {
  const first = floorDay(since);
  const end = floorDay(until - 1) + DAY;
  const cases: string[] = [];
  const hours = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => `c${int(from + i)}`);
  for (let day = first; day < end; day += DAY) {
    const fromHour = Math.max(0, Math.floor((since - day) / HOUR));
    const toHour = Math.min(24, Math.ceil((until - day) / HOUR));
    if (fromHour === 0 && toHour === 24) continue;
    const sum =
      toHour - fromHour <= 12
        ? hours(fromHour, toHour).join(' + ')
        : `cost_usd - (${[...hours(0, fromHour), ...hours(toHour, 24)].join(' + ')})`;
    cases.push(`WHEN day = ${int(day)} THEN ${sum}`);
  }
  const cost = cases.length === 0 ? 'cost_usd' : `CASE ${cases.join(' ')} ELSE cost_usd END`;
  return `SELECT key, sum(${cost}) AS cost_usd FROM usage_insight_days
    WHERE day >= ${int(first)} AND day < ${int(end)} AND key <> ''
    GROUP BY key`;
}

export function rowsOfSpendCeilings(rows: readonly Raw[]): Map<string, number> {
  return new Map(rows.map((r) => [String(r.key), num(r.cost_usd)]));
}

/** Input tokens at a rank of a key's records of a period, on SQLite (PostgreSQL: createRankReads). */
export const RANK_SQL = `SELECT input_tokens FROM usage WHERE key = ? AND ts >= ? AND ts < ? AND input_tokens > 0
    ORDER BY input_tokens LIMIT 1 OFFSET ?`;

/** A row of any driver: sums may be numbers, bigint strings or numeric strings. */
type Raw = Record<string, unknown>;
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
/**
 * A sum of money: SQLite adds doubles, PostgreSQL adds exact numerics, so their sums differ by
 * float noise (0.22499999… against 0.225) that would round to different cents. Both are snapped
 * to 1e-10 USD, far below any price, so the two stores print the same amounts.
 */
const usd = (v: unknown): number => Math.round(num(v) * 1e10) / 1e10;
const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function rowOfGroup(r: Raw): InsightGroup {
  return {
    key: String(r.key),
    model: String(r.model ?? ''),
    userAgent: text(r.user_agent),
    ip: text(r.ip),
    requests: num(r.requests),
    errors: num(r.errors),
    withInput: num(r.with_input),
    inputTokens: num(r.input_tokens),
    cachedTokens: num(r.cached_tokens),
    cacheWriteTokens: num(r.cache_write_tokens),
    outputTokens: num(r.output_tokens),
    costUsd: usd(r.cost_usd),
    longRequests: num(r.long_requests),
    longCostUsd: usd(r.long_cost_usd),
    smallRequests: num(r.small_requests),
    smallInputTokens: num(r.small_input_tokens),
    smallCachedTokens: num(r.small_cached_tokens),
    smallCacheWriteTokens: num(r.small_cache_write_tokens),
    smallOutputTokens: num(r.small_output_tokens),
    smallCostUsd: usd(r.small_cost_usd),
    cappedRequests: num(r.capped_requests),
    cappedCostUsd: usd(r.capped_cost_usd),
    offHoursRequests: num(r.off_hours_requests),
    offHoursCostUsd: usd(r.off_hours_cost_usd),
  };
}

export function rowOfRepeat(r: Raw): RepeatRecord {
  return {
    key: String(r.key),
    fingerprint: String(r.request_fp),
    ts: num(r.ts),
    status: num(r.status),
    errorCode: text(r.error_code),
    costUsd: usd(r.cost_usd),
  };
}

export function rowOfPrefix(r: Raw): PrefixGroup {
  return {
    key: String(r.key),
    model: String(r.model ?? ''),
    prefixes: num(r.prefixes),
    requests: num(r.requests),
    prefixTokens: num(r.prefix_tokens),
    cachedTokens: num(r.cached_tokens),
    costUsd: usd(r.cost_usd),
  };
}
