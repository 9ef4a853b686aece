import type { AuditEntry, DailyTotal, DailyTotalsQuery, UsageRecord, UsageSource } from '../types.js';
import { guarded, type Pool } from './pool.js';

/** Reads for the dashboard; the same answers as the embedded store's (sqlite/dashboard-queries.ts). */

export function dailyTotals(pool: Pool, q: DailyTotalsQuery): Promise<DailyTotal[]> {
  return guarded(async () => {
    const params: unknown[] = [q.fromDay, q.toDay];
    let where = 'day >= $1 AND day <= $2';
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
    const { rows } = await pool.query<{
      request_id: string;
      ts: number;
      day: string;
      key: string;
      model: string | null;
      upstream: string | null;
      route: string;
      status: number;
      error_code: string | null;
      input_tokens: number;
      output_tokens: number;
      cached_tokens: number;
      cost_usd: number;
      latency_ms: number;
      stream: boolean;
      user_agent: string | null;
      ip: string | null;
      config_revision: string;
      usage_source: string;
      cache_write_tokens: number;
      requested_model: string | null;
      key_hash: string | null;
    }>('SELECT * FROM usage WHERE key = $1 ORDER BY ts DESC, request_id DESC LIMIT $2', [
      key,
      Math.max(0, Math.floor(limit)),
    ]);
    return rows.map((r) => ({
      requestId: r.request_id,
      ts: r.ts,
      day: r.day,
      key: r.key,
      model: r.model,
      upstream: r.upstream,
      route: r.route,
      status: r.status,
      errorCode: r.error_code,
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      cachedTokens: r.cached_tokens,
      costUsd: r.cost_usd,
      latencyMs: r.latency_ms,
      stream: r.stream,
      userAgent: r.user_agent,
      ip: r.ip,
      configRevision: r.config_revision,
      usageSource: r.usage_source as UsageSource,
      cacheWriteTokens: r.cache_write_tokens,
      requestedModel: r.requested_model,
      keyHash: r.key_hash,
    }));
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
