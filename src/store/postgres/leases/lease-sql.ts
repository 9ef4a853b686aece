import type { PeriodSpend, UsageRecord } from '../../types.js';
import { completeUsage } from '../../usage-columns.js';
import { oneStatement, type Pool } from '../pool.js';
import type { RoundPlan, RoundResult } from './book.js';
import { nanoOfText, usdText } from './money.js';

/**
 * The two statements of budget leases (migrations 13 and 14): a lease round (returns, renewals and
 * grants of one replica in one transaction) and the settles of requests served from leases
 * (many requests' usage records in one insert, one commit). Money crosses as decimal text.
 */

export async function runLeaseRound(pool: Pool, plan: RoundPlan): Promise<RoundResult> {
  const returns = plan.returns.map((r) => ({
    id: r.leaseId,
    released: usdText(r.released),
    granted: usdText(r.granted),
    close: r.close,
  }));
  const grants = plan.grants.map((g) => ({
    id: g.leaseId,
    fresh: g.fresh,
    key: g.plan.key,
    periods: g.plan.periods,
    windows: g.plan.windows.map((w) => ({ period: w.period, lim: String(w.limitUsd) })),
    want: usdText(g.want),
    min: usdText(g.min),
    unit: usdText(g.unit),
  }));
  const rows = await oneStatement(pool, async (c) => {
    const r = await c.query<{ o_id: string; o_granted: string | null; o_gone: boolean }>({
      name: 'tollgate_lease_round',
      text: 'SELECT * FROM tollgate_lease_round($1::jsonb, $2::text[], $3::jsonb, $4, $5)',
      values: [JSON.stringify(returns), plan.renew, JSON.stringify(grants), plan.now, plan.until],
    });
    return r.rows;
  });
  const result: RoundResult = { granted: new Map(), gone: new Set() };
  for (const row of rows) {
    if (row.o_gone) result.gone.add(row.o_id);
    else if (row.o_granted !== null) result.granted.set(row.o_id, nanoOfText(row.o_granted));
  }
  return result;
}

export interface LeasedItem {
  usage: UsageRecord;
  leaseId: string;
  /** The lease's periods: its requests charge exactly these. */
  periods: string[];
  /** Nano-dollars the lease book took off the lease for this settle (LeasedSettle.release). */
  release: number;
}

/** Settles leased requests in one transaction; per item, the key's spend after the batch. */
export async function settleLeased(
  pool: Pool,
  items: LeasedItem[],
): Promise<(Record<string, PeriodSpend> | undefined)[]> {
  // Read by the record's field names (usage-columns.ts), `id` and `cost` (decimal text) for
  // requestId and costUsd, as tollgate_settle_many reads them.
  const payload = items.map(({ usage, leaseId, periods, release }) => {
    const { requestId, costUsd, ...rest } = completeUsage(usage);
    return {
      id: requestId,
      ...rest,
      cost: String(costUsd),
      // What the lease book took off the lease for this cost: the database draws the same.
      release: usdText(release),
      lease: leaseId,
      periods,
    };
  });
  const rows = await oneStatement(pool, async (c) => {
    const r = await c.query<{ o_key: string; o_entry: string; o_spent: number; o_reserved: number }>({
      name: 'tollgate_settle_leased',
      text: 'SELECT * FROM tollgate_settle_leased($1::jsonb)',
      values: [JSON.stringify(payload)],
    });
    return r.rows;
  });
  const byKey = new Map<string, Record<string, PeriodSpend>>();
  for (const row of rows) {
    const spend = byKey.get(row.o_key) ?? {};
    spend[row.o_entry] = { spentUsd: row.o_spent, reservedUsd: row.o_reserved };
    byKey.set(row.o_key, spend);
  }
  return items.map((i) => byKey.get(i.usage.key));
}
