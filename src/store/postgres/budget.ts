import { spendRowOf } from '../../windows/budget-subject.js';
import { recoveredUsage } from '../recovered-usage.js';
import type { PeriodSpend, ReserveRequest, ReserveResult, UsageRecord } from '../types.js';
import {
  MEDIA_USAGE_COLUMN_NAMES,
  type StoredUsageColumn,
  USAGE_COLUMN_NAMES,
  usageColumnValues,
} from '../usage-columns.js';
import { pruneLeaseCharges } from './leases/lease-charges.js';
import { guarded, inTransaction, oneStatement, type Pool, type Queryable } from './pool.js';

/**
 * Hard budgets across replicas. The work happens in the functions of migrations 2 and 6
 * (tollgate_reserve, tollgate_settle_spend): each call is one round trip and one transaction that
 * locks the key's spend rows in period order, so concurrent replicas serialize per key and can
 * never together push spent + reserved past a limit. Money is `numeric` in the database and
 * crosses the wire as decimal text, so the comparison with the limit is exact.
 */

export const uniqueSorted = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

/** The periods a reservation holds: a limited window missing from `periods` would not see it. */
export const reservedPeriods = (r: ReserveRequest): string[] =>
  uniqueSorted([...r.periods, ...r.windows.map((w) => w.period)]);

export interface ReserveRow {
  o_ok: boolean;
  o_period: string | null;
  o_limit: number | null;
  o_spent: number | null;
  o_reserved: number | null;
}

export function reserveResultOf(row: ReserveRow | undefined): ReserveResult {
  if (!row || row.o_ok) return { ok: true };
  return {
    ok: false,
    period: row.o_period ?? '',
    limitUsd: row.o_limit ?? 0,
    spentUsd: row.o_spent ?? 0,
    reservedUsd: row.o_reserved ?? 0,
  };
}

export function reserve(pool: Pool, r: ReserveRequest, now: number): Promise<ReserveResult> {
  return oneStatement(pool, async (c) => {
    const { rows } = await c.query<ReserveRow>({
      name: 'tollgate_reserve',
      text: 'SELECT * FROM tollgate_reserve($1, $2, $3::numeric, $4::text[], $5::text[], $6::numeric[], $7, $8)',
      values: [
        r.id,
        r.key,
        String(r.amountUsd),
        reservedPeriods(r),
        r.windows.map((w) => w.period),
        r.windows.map((w) => String(w.limitUsd)),
        r.leaseUntil,
        now,
      ],
    });
    return reserveResultOf(rows[0]);
  });
}

/**
 * Settles one request (see tollgate_settle_spend, migration 6): whether its usage record was
 * new, and the spend after it of every period it charged (none when it charged nothing).
 */
async function settleOn(
  c: Queryable,
  u: UsageRecord,
  periods: string[],
): Promise<{ fresh: boolean; spend: Record<string, PeriodSpend> | undefined }> {
  const { rows } = await c.query<SettleRow>({
    // Named: parsed and planned once per connection.
    name: 'tollgate_settle_spend',
    text: `SELECT * FROM tollgate_settle_spend($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::numeric,
       $14, $15, $16, $17, $18, $19, $20::text[], $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)`,
    values: settleArgs(u, periods),
  });
  return settleResultOf(rows);
}

/**
 * tollgate_settle_spend's arguments: the usage columns of migration 1, the periods, then the
 * columns migrations 3 and 10 added, then the media units (the signature of migration 19).
 */
const PERIODS_AT = USAGE_COLUMN_NAMES.indexOf('cache_write_tokens');
const SETTLE_COLUMNS: readonly StoredUsageColumn[] = [...USAGE_COLUMN_NAMES, ...MEDIA_USAGE_COLUMN_NAMES];

function settleArgs(u: UsageRecord, periods: string[]): unknown[] {
  // Money crosses as decimal text, so `numeric` stays exact.
  const values: unknown[] = usageColumnValues(
    u,
    (c, v) => (c === 'cost_usd' ? String(v) : v),
    SETTLE_COLUMNS,
  );
  values.splice(PERIODS_AT, 0, uniqueSorted(periods));
  return values;
}

export interface SettleRow {
  o_fresh: boolean;
  o_entry: string | null;
  o_spent: number | null;
  o_reserved: number | null;
}

/** The rows tollgate_settle_spend answered for one request. */
export function settleResultOf(rows: readonly SettleRow[]): {
  fresh: boolean;
  spend: Record<string, PeriodSpend> | undefined;
} {
  let spend: Record<string, PeriodSpend> | undefined;
  for (const r of rows) {
    if (r.o_entry === null) continue;
    spend ??= {};
    spend[r.o_entry] = { spentUsd: r.o_spent ?? 0, reservedUsd: r.o_reserved ?? 0 };
  }
  return { fresh: rows[0]?.o_fresh ?? false, spend };
}

export function settle(
  pool: Pool,
  usage: UsageRecord,
  periods: string[],
): Promise<Record<string, PeriodSpend> | undefined> {
  return oneStatement(pool, (c) => settleOn(c, usage, periods).then((r) => r.spend));
}

interface ExpiredRow {
  id: string;
  key: string;
  amount_usd: number;
  periods: string[];
  created_at: number;
}

const BATCH = 200;

export async function recoverReservations(pool: Pool, now: number, all: boolean): Promise<number> {
  let total = 0;
  // Batches keep each transaction short; SKIP LOCKED lets several replicas sweep side by side
  // without waiting on (or double-charging) each other's rows. Each recovered reservation is
  // then settled like any request, at its reserved amount: money is never under-counted.
  for (;;) {
    const n = await inTransaction(pool, async (c) => {
      // A budget lease its owner drew down to nothing before it died holds nothing to charge.
      await c.query(
        `DELETE FROM reservations WHERE id IN (
           SELECT id FROM reservations WHERE left(id, 6) = 'lease:' AND amount_usd = 0
             AND ($2::boolean OR lease_until < $1) ORDER BY id FOR UPDATE SKIP LOCKED)`,
        [now, all],
      );
      const { rows } = await c.query<ExpiredRow>(
        `SELECT id, key, amount_usd, periods, created_at FROM reservations
         WHERE $2::boolean OR lease_until < $1
         ORDER BY key, id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
        [now, all],
      );
      // The batch's settles lock the spend rows of several keys and their groups; taken one
      // settle at a time they would come in no global order and could deadlock with a reserve.
      // Locking them all first, in the (subject, period) order reserve uses, keeps one order.
      if (rows.length > 0) {
        await c.query(
          `SELECT 1 FROM spend s JOIN (
             SELECT DISTINCT tollgate_subject(r.key, p) AS k, tollgate_period(p) AS per
             FROM reservations r, unnest(r.periods) AS p WHERE r.id = ANY($1::text[])) x
           ON s.key = x.k AND s.period = x.per
           ORDER BY s.key, s.period FOR UPDATE OF s`,
          [rows.map((r) => r.id)],
        );
        // What each expired budget lease is charged (migration 14): its owner, if alive, returns
        // its free part against it and its late settles draw on it, so nothing counts twice.
        await c.query(
          `INSERT INTO lease_charges (id, key, periods, charged_usd, released_usd, granted_usd, swept_at)
           SELECT id, key, periods, amount_usd, released_usd, granted_usd, $2 FROM reservations
           WHERE id = ANY($1::text[]) AND left(id, 6) = 'lease:' ORDER BY id
           ON CONFLICT (id) DO NOTHING`,
          [rows.map((r) => r.id), now],
        );
      }
      for (const r of rows) {
        const reservation = {
          id: r.id,
          key: r.key,
          amountUsd: r.amount_usd,
          periods: r.periods,
          createdAt: r.created_at,
        };
        await settleOn(c, recoveredUsage(reservation, now), r.periods);
      }
      return rows.length;
    });
    total += n;
    if (n < BATCH) break;
  }
  // Swept leases' charges no settle can draw on any more (leases/lease-charges.ts), a batch a pass.
  await pruneLeaseCharges(pool, now);
  return total;
}

export function getSpend(pool: Pool, key: string, periods: string[]): Promise<Record<string, PeriodSpend>> {
  return guarded(async () => {
    const out: Record<string, PeriodSpend> = {};
    for (const p of periods) out[p] = { spentUsd: 0, reservedUsd: 0 };
    // Entries may name the rows of the key's group (`@backend/d:…`, budget-subject.ts).
    const rowsOf = periods.map((p) => spendRowOf(key, p));
    const { rows } = await pool.query<{ n: number; spent_usd: number; reserved_usd: number }>(
      `SELECT x.n::int AS n, s.spent_usd, s.reserved_usd
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(subject, period, n)
       JOIN spend s ON s.key = x.subject AND s.period = x.period`,
      [rowsOf.map(([k]) => k), rowsOf.map(([, p]) => p)],
    );
    for (const r of rows) {
      const entry = periods[r.n - 1];
      if (entry !== undefined) out[entry] = { spentUsd: r.spent_usd, reservedUsd: r.reserved_usd };
    }
    return out;
  });
}

export function getAllSpend(pool: Pool, periods: string[]): Promise<Map<string, Record<string, number>>> {
  return guarded(async () => {
    const { rows } = await pool.query<{ key: string; period: string; spent_usd: number }>(
      // Keys only: a group's rows (`@backend`) would count its keys' spend twice in a total.
      "SELECT key, period, spent_usd FROM spend WHERE period = ANY($1::text[]) AND left(key, 1) <> '@' ORDER BY key",
      [periods],
    );
    const out = new Map<string, Record<string, number>>();
    for (const r of rows) {
      const rec = out.get(r.key) ?? {};
      rec[r.period] = r.spent_usd;
      out.set(r.key, rec);
    }
    return out;
  });
}
