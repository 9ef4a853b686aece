import type {
  PeriodSpend,
  ReserveRequest,
  ReserveResult,
  SlotRequest,
  SlotResult,
  UsageRecord,
} from '../types.js';
import { createBatcher } from './batcher.js';
import { oneStatement, type Pool } from './pool.js';

/**
 * The four store calls of every proxied request on PostgreSQL (rate slot, reserve, settle, the
 * spend read after it), each batched across concurrent requests (batcher.ts): one statement
 * calls the existing per-request function (tollgate_acquire_slot, tollgate_reserve,
 * tollgate_settle, migration 2) once per input through `unnest(...) WITH ORDINALITY CROSS JOIN
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
 * The spend rows of the batch's keys are locked first, in key order (the uncorrelated subquery
 * in WHERE runs once, before any row): tollgate_settle locks a usage_daily row and then the
 * key's spend rows, so two settles of one key in one transaction would otherwise hold spend
 * while waiting for a usage_daily row another replica holds while waiting for spend.
 */
const SETTLE_MANY = `
  SELECT s.fresh
  FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
      $8::integer[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::numeric[],
      $14::double precision[], $15::boolean[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[],
      $22::bigint[], $23::text[], $24::text[])
    WITH ORDINALITY AS b(request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens,
      output_tokens, cached_tokens, cost, latency_ms, stream, user_agent, ip, config_revision, usage_source,
      periods, cache_write_tokens, requested_model, key_hash, n)
  CROSS JOIN LATERAL tollgate_settle(b.request_id, b.ts, b.day, b.key, b.model, b.upstream, b.route, b.status,
    b.error_code, b.input_tokens, b.output_tokens, b.cached_tokens, b.cost, b.latency_ms, b.stream,
    b.user_agent, b.ip, b.config_revision, b.usage_source, b.periods::text[], b.cache_write_tokens,
    b.requested_model, b.key_hash) AS s(fresh)
  WHERE (SELECT count(*) FROM (
      SELECT 1 FROM spend WHERE key = ANY($4::text[]) AND period = ANY($21::text[])
      ORDER BY key, period FOR UPDATE
    ) AS locked) >= 0
  ORDER BY b.n`;

const SLOT_MANY = `
  SELECT r.o_ok, r.o_limit, r.o_retry_after_sec, r.o_remaining
  FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::bigint[], $6::bigint[])
    WITH ORDINALITY AS b(key, id, rpm, max_parallel, now, lease_until, n)
  CROSS JOIN LATERAL tollgate_acquire_slot(b.key, b.id, b.rpm, b.max_parallel, b.now, b.lease_until) AS r
  ORDER BY b.n`;

const SPEND_MANY = `
  SELECT b.n, s.period, s.spent_usd, s.reserved_usd
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS b(key, periods, n)
  JOIN spend s ON s.key = b.key AND s.period = ANY(b.periods::text[])`;

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

interface SlotRow {
  o_ok: boolean;
  o_limit: 'rpm' | 'max_parallel' | null;
  o_retry_after_sec: number;
  o_remaining: number | null;
}

const slotResult = (row: SlotRow | undefined): SlotResult => {
  if (!row) return { ok: true };
  if (row.o_ok) return row.o_remaining === null ? { ok: true } : { ok: true, remaining: row.o_remaining };
  return { ok: false, limit: row.o_limit ?? 'rpm', retryAfterSec: row.o_retry_after_sec, remaining: 0 };
};

export interface BatchedCalls {
  reserve(r: ReserveRequest, now: number): Promise<ReserveResult>;
  settle(usage: UsageRecord, periods: string[]): Promise<undefined>;
  acquireSlot(r: SlotRequest): Promise<SlotResult>;
  getSpend(key: string, periods: string[]): Promise<Record<string, PeriodSpend>>;
}

export function createBatchedCalls(pool: Pool, opts: { poolSize: number; maxBatch?: number }): BatchedCalls {
  // Four kinds of statement share the pool; leave a connection or two for everything else.
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
          uniqueSorted(items.flatMap(({ periods }) => periods)),
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

  const slotMany = (items: SlotRequest[]): Promise<SlotResult[]> =>
    oneStatement(pool, async (q) => {
      const { rows } = await q.query<SlotRow>({
        name: 'tollgate_acquire_slot_many',
        text: SLOT_MANY,
        values: [
          items.map((r) => r.key),
          items.map((r) => r.id),
          items.map((r) => r.rpm ?? null),
          items.map((r) => r.maxParallel ?? null),
          items.map((r) => r.now),
          items.map((r) => r.leaseUntil),
        ],
      });
      return items.map((_, i) => slotResult(rows[i]));
    });
  const slots = createBatcher<SlotRequest, SlotResult>({
    maxBatch,
    maxInFlight,
    order: byKey,
    one: alone(slotMany),
    many: slotMany,
  });

  type SpendInput = { key: string; periods: string[] };
  const spendMany = (items: SpendInput[]): Promise<Record<string, PeriodSpend>[]> =>
    oneStatement(pool, async (q) => {
      const { rows } = await q.query<{
        n: number;
        period: string;
        spent_usd: number;
        reserved_usd: number;
      }>({
        name: 'tollgate_spend_many',
        text: SPEND_MANY,
        values: [items.map((i) => i.key), items.map((i) => textArrayLiteral(i.periods))],
      });
      const out = items.map(({ periods }) => {
        const rec: Record<string, PeriodSpend> = {};
        for (const p of periods) rec[p] = { spentUsd: 0, reservedUsd: 0 };
        return rec;
      });
      for (const r of rows) {
        const rec = out[r.n - 1];
        if (rec) rec[r.period] = { spentUsd: r.spent_usd, reservedUsd: r.reserved_usd };
      }
      return out;
    });
  const spends = createBatcher<SpendInput, Record<string, PeriodSpend>>({
    maxBatch,
    maxInFlight,
    one: alone(spendMany),
    many: spendMany,
  });

  return {
    reserve: (r, now) => reserves.run({ r, now, key: r.key }),
    settle: (u, periods) => settles.run({ u, periods, key: u.key }),
    acquireSlot: (r) =>
      r.rpm === undefined && r.maxParallel === undefined ? Promise.resolve({ ok: true }) : slots.run(r),
    getSpend: (key, periods) => spends.run({ key, periods }),
  };
}
