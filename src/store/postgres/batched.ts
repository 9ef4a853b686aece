import type { ReserveRequest, ReserveResult, UsageRecord } from '../types.js';
import { createBatcher } from './batcher.js';
import { oneStatement, type Pool } from './pool.js';

/**
 * The two writes of every proxied request on PostgreSQL (reserve, settle), each batched across
 * concurrent requests (batcher.ts): one statement calls the existing per-request function
 * (tollgate_reserve, tollgate_settle) once per input through `unnest(...) WITH ORDINALITY CROSS JOIN
 * LATERAL`, in one implicit transaction. What each call checks and locks is unchanged; the
 * inputs of a batch run in key order, so replicas take their locks in one global order.
 * Statements are named, so each connection parses and plans them once.
 */

/** A text[] literal (`{"a","b"}`): an input's own array travels as one element of a text[] parameter. */
export function textArrayLiteral(xs: readonly (string | number)[]): string {
  return `{${xs.map((x) => `"${String(x).replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

const uniqueSorted = (xs: readonly string[]): string[] => [...new Set(xs)].sort();
const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

const RESERVE_MANY = `
  SELECT r.o_ok, r.o_period, r.o_limit, r.o_spent, r.o_reserved
  FROM unnest($1::text[], $2::text[], $3::numeric[], $4::text[], $5::text[], $6::text[], $7::bigint[],
      $8::bigint[])
    WITH ORDINALITY AS b(id, key, amount, periods, windows, limits, lease_until, now, n)
  CROSS JOIN LATERAL tollgate_reserve(b.id, b.key, b.amount, b.periods::text[], b.windows::text[],
    b.limits::numeric[], b.lease_until, b.now) AS r
  ORDER BY b.n`;

/*
 * The spend rows the batch charges (its keys' and their groups', entries mapped as the functions
 * of migration 5 map them) are locked first, in (subject, period) order as reserve locks them (the
 * uncorrelated subquery in WHERE runs once, before any row): tollgate_settle locks a usage_daily row and then the
 * key's spend rows, so two settles of one key in one transaction would otherwise hold spend
 * while waiting for a usage_daily row another replica holds while waiting for spend.
 */
const SETTLE_MANY = `
  SELECT s.fresh
  FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
      $8::integer[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::numeric[],
      $14::double precision[], $15::boolean[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[],
      $21::bigint[], $22::text[], $23::text[])
    WITH ORDINALITY AS b(request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens,
      output_tokens, cached_tokens, cost, latency_ms, stream, user_agent, ip, config_revision, usage_source,
      periods, cache_write_tokens, requested_model, key_hash, n)
  CROSS JOIN LATERAL tollgate_settle(b.request_id, b.ts, b.day, b.key, b.model, b.upstream, b.route, b.status,
    b.error_code, b.input_tokens, b.output_tokens, b.cached_tokens, b.cost, b.latency_ms, b.stream,
    b.user_agent, b.ip, b.config_revision, b.usage_source, b.periods::text[], b.cache_write_tokens,
    b.requested_model, b.key_hash) AS s(fresh)
  WHERE (SELECT count(*) FROM (
      SELECT 1 FROM spend s JOIN (
        SELECT DISTINCT tollgate_subject(x.key, e) AS k, tollgate_period(e) AS per
        FROM unnest($4::text[], $20::text[]) AS x(key, entries), unnest(x.entries::text[]) AS e) w
      ON s.key = w.k AND s.period = w.per
      ORDER BY s.key, s.period FOR UPDATE OF s
    ) AS locked) >= 0
  ORDER BY b.n`;

interface ReserveRow {
  o_ok: boolean;
  o_period: string | null;
  o_limit: number | null;
  o_spent: number | null;
  o_reserved: number | null;
}

const reserveResult = (row: ReserveRow | undefined): ReserveResult =>
  !row || row.o_ok
    ? { ok: true }
    : {
        ok: false,
        period: row.o_period ?? '',
        limitUsd: row.o_limit ?? 0,
        spentUsd: row.o_spent ?? 0,
        reservedUsd: row.o_reserved ?? 0,
      };

export interface BatchedCalls {
  reserve(r: ReserveRequest, now: number): Promise<ReserveResult>;
  settle(usage: UsageRecord, periods: string[]): Promise<undefined>;
}

export function createBatchedCalls(pool: Pool, opts: { poolSize: number; maxBatch?: number }): BatchedCalls {
  // Two kinds of statement share the pool with the rate slots and the reads.
  const maxInFlight = Math.max(1, Math.floor(opts.poolSize / 4));
  const maxBatch = opts.maxBatch ?? 256;

  type ReserveInput = { r: ReserveRequest; now: number; key: string };
  const reserveMany = (items: ReserveInput[]): Promise<ReserveResult[]> =>
    oneStatement(pool, async (q) => {
      const periods = items.map(({ r }) => uniqueSorted([...r.periods, ...r.windows.map((w) => w.period)]));
      const { rows } = await q.query<ReserveRow>({
        name: 'tollgate_reserve_many',
        text: RESERVE_MANY,
        values: [
          items.map(({ r }) => r.id),
          items.map(({ r }) => r.key),
          items.map(({ r }) => String(r.amountUsd)),
          periods.map(textArrayLiteral),
          items.map(({ r }) => textArrayLiteral(r.windows.map((w) => w.period))),
          items.map(({ r }) => textArrayLiteral(r.windows.map((w) => String(w.limitUsd)))),
          items.map(({ r }) => r.leaseUntil),
          items.map(({ now }) => now),
        ],
      });
      return items.map((_, i) => reserveResult(rows[i]));
    });
  // A lone call runs the same named statement: parsed and planned once per connection.
  const alone =
    <I, O>(many: (items: I[]) => Promise<O[]>) =>
    (item: I): Promise<O> =>
      many([item]).then((outs) => outs[0] as O);
  const reserves = createBatcher<ReserveInput, ReserveResult>({
    maxBatch,
    maxInFlight,
    order: byKey,
    one: alone(reserveMany),
    many: reserveMany,
  });

  type SettleInput = { u: UsageRecord; periods: string[]; key: string };
  const settleMany = (items: SettleInput[]): Promise<undefined[]> =>
    oneStatement(pool, async (q) => {
      const col = <T>(f: (u: UsageRecord) => T) => items.map(({ u }) => f(u));
      const { rows } = await q.query<{ fresh: boolean }>({
        name: 'tollgate_settle_many',
        text: SETTLE_MANY,
        values: [
          col((u) => u.requestId),
          col((u) => u.ts),
          col((u) => u.day),
          col((u) => u.key),
          col((u) => u.model),
          col((u) => u.upstream),
          col((u) => u.route),
          col((u) => u.status),
          col((u) => u.errorCode),
          col((u) => u.inputTokens),
          col((u) => u.outputTokens),
          col((u) => u.cachedTokens),
          col((u) => String(u.costUsd)),
          col((u) => u.latencyMs),
          col((u) => u.stream),
          col((u) => u.userAgent),
          col((u) => u.ip),
          col((u) => u.configRevision),
          col((u) => u.usageSource),
          items.map(({ periods }) => textArrayLiteral(uniqueSorted(periods))),
          col((u) => u.cacheWriteTokens ?? 0),
          col((u) => u.requestedModel ?? null),
          col((u) => u.keyHash ?? null),
        ],
      });
      if (rows.length !== items.length) throw new Error('settle batch: a row per input was expected');
      return items.map(() => undefined);
    });
  const settles = createBatcher<SettleInput, undefined>({
    maxBatch,
    maxInFlight,
    order: byKey,
    // Alone too through the batch statement, never tollgate_settle by itself: every settle must
    // lock spend before usage_daily (see SETTLE_MANY), or a lone one and a batch deadlock.
    one: alone(settleMany),
    many: settleMany,
  });

  return {
    reserve: (r, now) => reserves.run({ r, now, key: r.key }),
    settle: (u, periods) => settles.run({ u, periods, key: u.key }),
  };
}
