import type { AuditEntry, DailyTotal, DailyTotalsQuery, UsageRecord } from '../types.js';
import { USAGE_COLUMN_LIST, type UsageDbRow, usageFromRow } from '../usage-columns.js';
import { guarded, type Pool } from './pool.js';

/** Reads for the dashboard; the same answers as the embedded store's (sqlite/dashboard-queries.ts). */

export function dailyTotals(pool: Pool, q: DailyTotalsQuery): Promise<DailyTotal[]> {
  return guarded(async () => {
    const params: unknown[] = [q.fromDay, q.toDay];
    // One day of one key (the digest's): `day =` makes it a seek of the primary key, not a pick
    // from every key's rows of the day.
    let where = q.fromDay === q.toDay ? 'day = $1 AND day = $2' : 'day >= $1 AND day <= $2';
    if (q.key !== undefined) {
      params.push(q.key);
      where += ' AND key = $3';
    }
    const { rows } = await pool.query<{
      day: string;
      key: string;
      model: string;
      requests: number;
      errors: number;
      input_tokens: number;
      output_tokens: number;
      cost_usd: number;
    }>(
      `SELECT day, key, model, sum(requests)::float8 AS requests,
         coalesce(sum(requests) FILTER (WHERE status >= 400), 0)::float8 AS errors,
         sum(input_tokens)::float8 AS input_tokens, sum(output_tokens)::float8 AS output_tokens,
         sum(cost_usd)::float8 AS cost_usd
       FROM usage_daily WHERE ${where} GROUP BY day, key, model`,
      params,
    );
    // Sorted here, not in SQL, so collation cannot make the two stores differ.
    return rows
      .map((r) => ({
        day: r.day,
        key: r.key,
        model: r.model,
        requests: r.requests,
        errors: r.errors,
        inputTokens: r.input_tokens,
        outputTokens: r.output_tokens,
        costUsd: r.cost_usd,
      }))
      .sort((a, b) => cmp(a.day, b.day) || cmp(a.key, b.key) || cmp(a.model, b.model));
  });
}

export function recentUsage(pool: Pool, key: string, limit: number): Promise<UsageRecord[]> {
  return guarded(async () => {
    const { rows } = await pool.query<UsageDbRow>(
      `SELECT ${USAGE_COLUMN_LIST} FROM usage WHERE key = $1 ORDER BY ts DESC, request_id DESC LIMIT $2`,
      [key, Math.max(0, Math.floor(limit))],
    );
    return rows.map(usageFromRow);
  });
}

export function keyAudit(pool: Pool, key: string, limit: number): Promise<AuditEntry[]> {
  return guarded(async () => {
    const { rows } = await pool.query<AuditEntry>(
      `SELECT at, actor, source, action, key, reason, result FROM audit WHERE key = $1
       ORDER BY at DESC, id DESC LIMIT $2`,
      [key, Math.max(0, Math.floor(limit))],
    );
    return rows;
  });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
