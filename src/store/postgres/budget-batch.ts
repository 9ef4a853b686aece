import type { PeriodSpend, ReserveRequest, ReserveResult, UsageRecord } from '../types.js';
import { completeUsage } from '../usage-columns.js';
import { createBatcher } from './batch.js';
import {
  type ReserveRow,
  reserve,
  reservedPeriods,
  reserveResultOf,
  type SettleRow,
  settle,
  settleResultOf,
  uniqueSorted,
} from './budget.js';
import { oneStatement, type Pool } from './pool.js';

/**
 * Reserve and settle through group commits (batch.ts): the calls of concurrent requests go to
 * tollgate_reserve_many / tollgate_settle_many (migration 6) as one JSON array, one round trip
 * and one commit for all of them, each item checked and written as if alone. Money crosses as
 * decimal strings, so `numeric` stays exact.
 */
export interface BatchedBudget {
  reserve(r: ReserveRequest, now: number): Promise<ReserveResult>;
  settle(usage: UsageRecord, periods: string[]): Promise<Record<string, PeriodSpend> | undefined>;
}

/** Enough to share the commit of a burst; small enough that one batch is a short transaction. */
const MAX_BATCH = 64;

export function createBatchedBudget(pool: Pool, maxInFlight: number, staleAfterMs: number): BatchedBudget {
  const reserveBatcher = createBatcher<{ r: ReserveRequest; now: number }, ReserveResult>({
    maxBatch: MAX_BATCH,
    maxInFlight,
    staleAfterMs,
    one: ({ r, now }) => reserve(pool, r, now),
    many: (items) =>
      oneStatement(pool, async (c) => {
        const payload = items.map(({ r, now }) => ({
          id: r.id,
          key: r.key,
          amount: String(r.amountUsd),
          periods: reservedPeriods(r),
          windows: r.windows.map((w) => w.period),
          limits: r.windows.map((w) => String(w.limitUsd)),
          lease: r.leaseUntil,
          now,
        }));
        const { rows } = await c.query<ReserveRow & { o_n: number }>({
          name: 'tollgate_reserve_many',
          text: 'SELECT * FROM tollgate_reserve_many($1::jsonb)',
          values: [JSON.stringify(payload)],
        });
        const out: ReserveResult[] = items.map(() => ({ ok: true }));
        for (const row of rows) out[row.o_n - 1] = reserveResultOf(row);
        return out;
      }),
  });

  const settleBatcher = createBatcher<
    { usage: UsageRecord; periods: string[] },
    Record<string, PeriodSpend> | undefined
  >({
    maxBatch: MAX_BATCH,
    maxInFlight,
    one: ({ usage, periods }) => settle(pool, usage, periods),
    many: (items) =>
      oneStatement(pool, async (c) => {
        // tollgate_settle_many reads each item by the record's field names, with `id` and `cost`
        // (decimal text, so `numeric` stays exact) for requestId and costUsd.
        const payload = items.map(({ usage, periods }) => {
          const { requestId, costUsd, ...rest } = completeUsage(usage);
          return { id: requestId, ...rest, cost: String(costUsd), periods: uniqueSorted(periods) };
        });
        const { rows } = await c.query<SettleRow & { o_n: number }>({
          name: 'tollgate_settle_many',
          text: 'SELECT * FROM tollgate_settle_many($1::jsonb)',
          values: [JSON.stringify(payload)],
        });
        const byItem: SettleRow[][] = items.map(() => []);
        for (const row of rows) byItem[row.o_n - 1]?.push(row);
        return byItem.map((r) => settleResultOf(r).spend);
      }),
  });

  return {
    reserve: (r, now) => reserveBatcher({ r, now }),
    settle: (usage, periods) => settleBatcher({ usage, periods }),
  };
}
