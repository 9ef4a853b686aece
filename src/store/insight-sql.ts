import type { InsightGroup, InsightQuery, PrefixGroup, RepeatRecord } from './insight-types.js';

/**
 * The SQL of the insight aggregates, one text for both stores: the period, thresholds and time
 * zone offsets are integers written into the statement (checked here), the key is the only
 * parameter (`$1` on PostgreSQL, `?` on SQLite). PostgreSQL's numeric sums come back as strings
 * and are read with rowOf* below on both stores, so both give the same numbers.
 */

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

export function groupsSql(q: InsightQuery, p: Placeholder): string {
  const long = `input_tokens >= ${int(q.longInputTokens)}`;
  const small = `input_tokens > 0 AND input_tokens < ${int(q.smallTokens)} AND output_tokens < ${int(q.smallTokens)}`;
  const capped = 'output_limit > 0 AND output_tokens >= output_limit';
  const tod = localTimeOfDay(q);
  const off = `(${tod} < ${int(q.dayStartMs)} OR ${tod} >= ${int(q.dayEndMs)})`;
  const when = (cond: string, value: string) => `sum(CASE WHEN ${cond} THEN ${value} ELSE 0 END)`;
  return `SELECT key, coalesce(model, '') AS model, user_agent, ip, count(*) AS requests,
    ${when('status >= 400', '1')} AS errors, ${when('input_tokens > 0', '1')} AS with_input,
    sum(input_tokens) AS input_tokens, sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens, sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd,
    ${when(long, '1')} AS long_requests, ${when(long, 'cost_usd')} AS long_cost_usd,
    ${when(small, '1')} AS small_requests, ${when(small, 'input_tokens')} AS small_input_tokens,
    ${when(small, 'cached_tokens')} AS small_cached_tokens, ${when(small, 'cache_write_tokens')} AS small_cache_write_tokens,
    ${when(small, 'output_tokens')} AS small_output_tokens, ${when(small, 'cost_usd')} AS small_cost_usd,
    ${when(capped, '1')} AS capped_requests, ${when(capped, 'cost_usd')} AS capped_cost_usd,
    ${when(off, '1')} AS off_hours_requests, ${when(off, 'cost_usd')} AS off_hours_cost_usd
    FROM usage WHERE ${where(q, p)}
    GROUP BY key, model, user_agent, ip`;
}

/** Every record of a fingerprint its key sent at least twice in the period, oldest first. */
export function repeatsSql(q: InsightQuery, p: Placeholder): string {
  // Row-value IN: both stores build a lookup of the repeated pairs and scan the period once
  // (a join probed the key's whole period for every repeated fingerprint).
  return `SELECT key, request_fp, ts, status, error_code, cost_usd FROM usage
    WHERE ${where(q, p)} AND request_fp IS NOT NULL AND (key, request_fp) IN (
      SELECT key, request_fp FROM usage WHERE ${whereByFingerprint(q, p)} AND request_fp IS NOT NULL
      GROUP BY key, request_fp HAVING count(*) >= 2)
    ORDER BY key, request_fp, ts`;
}

export function prefixesSql(q: InsightQuery, p: Placeholder): string {
  return `SELECT key, model, count(*) AS prefixes, sum(requests) AS requests, sum(prefix_tokens) AS prefix_tokens,
      sum(cached_tokens) AS cached_tokens, sum(cost_usd) AS cost_usd
    FROM (SELECT key, coalesce(model, '') AS model, prefix_fp, count(*) AS requests,
        sum(prefix_tokens) AS prefix_tokens, sum(cached_tokens) AS cached_tokens, sum(cost_usd) AS cost_usd
      FROM usage WHERE ${whereByFingerprint(q, p)} AND prefix_fp IS NOT NULL AND status < 400
      GROUP BY key, model, prefix_fp
      HAVING count(*) >= ${int(q.minPrefixRepeats)} AND sum(cached_tokens) = 0) g
    GROUP BY key, model`;
}

export function rankSql(p: '?' | '$'): string {
  const [k, s, u, r] = p === '?' ? ['?', '?', '?', '?'] : ['$1', '$2', '$3', '$4'];
  return `SELECT input_tokens FROM usage WHERE key = ${k} AND ts >= ${s} AND ts < ${u} AND input_tokens > 0
    ORDER BY input_tokens LIMIT 1 OFFSET ${r}`;
}

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
