import type pg from 'pg';
import { completeUsage } from '../../src/store/usage-columns.js';

/**
 * What the plans tests of the per-request functions share (postgres-settle-plans.test.ts,
 * postgres-hot-plans.test.ts): a settle item's usage columns, and every plan a connection runs,
 * read with auto_explain.
 */

/** A settle item's columns, as the store sends them for one chat request of `key` costing `cost`. */
export function settleColumns(id: string, key: string, cost: string, ts: number) {
  const { requestId, costUsd, ...rest } = completeUsage({
    requestId: id,
    ts,
    day: '2026-11-26',
    key,
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 1200,
    outputTokens: 300,
    cachedTokens: 0,
    costUsd: Number(cost),
    latencyMs: 1,
    stream: false,
    userAgent: 'test',
    ip: '127.0.0.1',
    configRevision: 'r',
    usageSource: 'provider',
  });
  return { id: requestId, ...rest, cost: String(costUsd) };
}

/** From now on, the plan of every statement `c` runs (nested ones too) is pushed to `notices`. */
export async function explainInto(c: pg.Client, notices: string[]): Promise<void> {
  c.on('notice', (n) => notices.push(n.message ?? ''));
  await c.query("LOAD 'auto_explain'");
  await c.query('SET auto_explain.log_min_duration = 0');
  await c.query('SET auto_explain.log_nested_statements = on');
  await c.query('SET auto_explain.log_level = notice');
}
