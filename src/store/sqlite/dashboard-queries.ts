import type { Database } from 'better-sqlite3';
import type { AuditEntry, DailyTotal, DailyTotalsQuery, UsageRecord } from '../types.js';
import { USAGE_COLUMN_LIST, type UsageDbRow, usageFromRow } from '../usage-columns.js';

/**
 * Reads for the dashboard. Charts sum the daily rollup (a few rows per key and day) rather than
 * the usage table, so a page costs the same with a million requests as with a thousand; the
 * rollup's primary key starts with `day`, so a 30-day range is one index range scan.
 */
export interface SqliteDashboardQueries {
  dailyTotals(q: DailyTotalsQuery): DailyTotal[];
  recentUsage(key: string, limit: number): UsageRecord[];
  keyAudit(key: string, limit: number): AuditEntry[];
}

interface TotalRow {
  day: string;
  key: string;
  model: string;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export function createSqliteDashboardQueries(db: Database): SqliteDashboardQueries {
  // GROUP BY follows the primary key (day, key, model, status): a streaming aggregate over one
  // range scan; with a key, its rows are picked from that range, or sought when it is one day
  // (day = ?: the digest reads one day of a few keys).
  const totals = (where: string) =>
    db.prepare<unknown[], TotalRow>(`
      SELECT day, key, model, SUM(requests) AS requests,
        SUM(CASE WHEN status >= 400 THEN requests ELSE 0 END) AS errors,
        SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, SUM(cost_usd) AS cost_usd
      FROM usage_daily WHERE ${where}
      GROUP BY day, key, model ORDER BY day, key, model`);
  const allTotals = totals('day >= ? AND day <= ?');
  const keyTotals = totals('day >= ? AND day <= ? AND key = ?');
  const keyDayTotals = totals('day = ? AND key = ?');
  // usage_key_ts_input (migration 11; usage_key_ts before) walked backwards: one index probe, then `limit` rows.
  const recent = db.prepare<[string, number], UsageDbRow>(
    `SELECT ${USAGE_COLUMN_LIST} FROM usage WHERE key = ? ORDER BY ts DESC, rowid DESC LIMIT ?`,
  );
  const audit = db.prepare<[string, number], AuditEntry>(
    'SELECT at, actor, source, action, key, reason, result FROM audit WHERE key = ? ORDER BY id DESC LIMIT ?',
  );

  return {
    dailyTotals(q) {
      const rows =
        q.key === undefined
          ? allTotals.all(q.fromDay, q.toDay)
          : q.fromDay === q.toDay
            ? keyDayTotals.all(q.fromDay, q.key)
            : keyTotals.all(q.fromDay, q.toDay, q.key);
      return rows.map((r) => ({
        day: r.day,
        key: r.key,
        model: r.model,
        requests: r.requests,
        errors: r.errors,
        inputTokens: r.input_tokens,
        outputTokens: r.output_tokens,
        costUsd: r.cost_usd,
      }));
    },
    recentUsage: (key, limit) => recent.all(key, Math.max(0, Math.floor(limit))).map(usageFromRow),
    keyAudit: (key, limit) => audit.all(key, Math.max(0, Math.floor(limit))),
  };
}
