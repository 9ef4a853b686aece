import { type BillRow, billRowOf, type MeteredModel } from '../bill-check-types.js';
import { guarded, inTransaction, type Pool } from './pool.js';

/** The bill check's queries on PostgreSQL (bill-check-types.ts). */

export function meteredByModel(
  pool: Pool,
  upstream: string,
  since: number,
  until: number,
): Promise<MeteredModel[]> {
  return guarded(async () => {
    const { rows } = await pool.query<MeteredModel>(
      `SELECT coalesce(model, '') AS model, count(*)::int AS requests,
         count(*) FILTER (WHERE status < 400)::int AS "okRequests",
         coalesce(sum(input_tokens), 0)::float8 AS "inputTokens",
         coalesce(sum(cached_tokens), 0)::float8 AS "cachedTokens",
         coalesce(sum(cache_write_tokens), 0)::float8 AS "cacheWriteTokens",
         coalesce(sum(output_tokens), 0)::float8 AS "outputTokens",
         coalesce(sum(cost_usd), 0)::float8 AS "costUsd"
       FROM usage WHERE upstream = $1 AND ts >= $2 AND ts < $3
       GROUP BY coalesce(model, '') ORDER BY 1`,
      [upstream, since, until],
    );
    return rows;
  });
}

export function saveBillChecks(
  pool: Pool,
  date: string,
  upstream: string,
  rows: BillRow[],
  at: number,
): Promise<void> {
  return inTransaction(pool, async (c) => {
    await c.query('DELETE FROM bill_checks WHERE date = $1 AND upstream = $2', [date, upstream]);
    for (const r of rows) {
      await c.query(
        `INSERT INTO bill_checks (date, upstream, model, verdict, metered_usd, billed_usd, delta_usd,
           metered_tokens, billed_tokens, detail, checked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          r.date,
          r.upstream,
          r.model,
          r.verdict,
          r.metered_usd,
          r.billed_usd,
          r.delta_usd,
          JSON.stringify(r.metered_tokens),
          r.billed_tokens === null ? null : JSON.stringify(r.billed_tokens),
          r.detail,
          at,
        ],
      );
    }
  });
}

export function billChecks(pool: Pool, fromDate: string, toDate: string): Promise<BillRow[]> {
  return guarded(async () => {
    const { rows } = await pool.query<Parameters<typeof billRowOf>[0]>(
      `SELECT date, upstream, model, verdict, metered_usd, billed_usd, delta_usd, metered_tokens,
         billed_tokens, detail FROM bill_checks WHERE date >= $1 AND date <= $2 ORDER BY date, upstream, model`,
      [fromDate, toDate],
    );
    return rows.map(billRowOf);
  });
}
