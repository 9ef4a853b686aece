import type { Database } from 'better-sqlite3';
import { type BillCheckStore, type BillRow, billRowOf, type MeteredModel } from '../bill-check-types.js';

/** The bill check's queries on the embedded store (bill-check-types.ts). */

type Sync<T> = { [K in keyof T]: T[K] extends (...a: infer A) => Promise<infer R> ? (...a: A) => R : never };
export type SqliteBillCheck = Sync<BillCheckStore>;

export function createSqliteBillCheck(db: Database): SqliteBillCheck {
  const metered = db.prepare<[string, number, number], MeteredModel>(`
    SELECT COALESCE(model, '') AS model, COUNT(*) AS requests,
      SUM(CASE WHEN status < 400 THEN 1 ELSE 0 END) AS okRequests,
      SUM(input_tokens) AS inputTokens, SUM(cached_tokens) AS cachedTokens,
      SUM(COALESCE(cache_write_tokens, 0)) AS cacheWriteTokens,
      SUM(output_tokens) AS outputTokens, SUM(cost_usd) AS costUsd
    FROM usage WHERE upstream = ? AND ts >= ? AND ts < ?
    GROUP BY COALESCE(model, '') ORDER BY model`);
  const clear = db.prepare<[string, string]>('DELETE FROM bill_checks WHERE date = ? AND upstream = ?');
  const insert = db.prepare(`
    INSERT INTO bill_checks (date, upstream, model, verdict, metered_usd, billed_usd, delta_usd,
      metered_tokens, billed_tokens, detail, checked_at)
    VALUES (@date, @upstream, @model, @verdict, @metered_usd, @billed_usd, @delta_usd,
      @metered_tokens, @billed_tokens, @detail, @checked_at)`);
  const list = db.prepare<[string, string], Parameters<typeof billRowOf>[0]>(`
    SELECT date, upstream, model, verdict, metered_usd, billed_usd, delta_usd, metered_tokens,
      billed_tokens, detail FROM bill_checks WHERE date >= ? AND date <= ? ORDER BY date, upstream, model`);
  const save = db.transaction((date: string, upstream: string, rows: BillRow[], at: number) => {
    clear.run(date, upstream);
    for (const r of rows) {
      insert.run({
        ...r,
        metered_tokens: JSON.stringify(r.metered_tokens),
        billed_tokens: r.billed_tokens === null ? null : JSON.stringify(r.billed_tokens),
        checked_at: at,
      });
    }
  });
  return {
    meteredByModel: (upstream, since, until) => metered.all(upstream, since, until),
    saveBillChecks: (date, upstream, rows, at) => save.immediate(date, upstream, rows, at),
    billChecks: (fromDate, toDate) => list.all(fromDate, toDate).map(billRowOf),
  };
}

/** The store's async face of the queries, read through `get` (which throws before init and after close). */
export function asyncBillCheck(get: () => SqliteBillCheck): BillCheckStore {
  return {
    meteredByModel: async (upstream, since, until) => get().meteredByModel(upstream, since, until),
    saveBillChecks: async (date, upstream, rows, at) => get().saveBillChecks(date, upstream, rows, at),
    billChecks: async (fromDate, toDate) => get().billChecks(fromDate, toDate),
  };
}
