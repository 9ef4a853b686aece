import type { UsageRecord } from './types.js';

/**
 * The usage table's columns and the record field each holds, in table order: the one mapping
 * both stores write and read usage records with. A migration that adds a usage column adds it
 * here too. PostgreSQL writes through SQL functions that take these values as arguments
 * (postgres/budget.ts, budget-batch.ts), so such a migration also redefines them to take it.
 */
export const USAGE_COLUMNS = {
  request_id: 'requestId',
  ts: 'ts',
  day: 'day',
  key: 'key',
  model: 'model',
  upstream: 'upstream',
  route: 'route',
  status: 'status',
  error_code: 'errorCode',
  input_tokens: 'inputTokens',
  output_tokens: 'outputTokens',
  cached_tokens: 'cachedTokens',
  cost_usd: 'costUsd',
  latency_ms: 'latencyMs',
  stream: 'stream',
  user_agent: 'userAgent',
  ip: 'ip',
  config_revision: 'configRevision',
  usage_source: 'usageSource',
  // Migration 3 (both stores).
  cache_write_tokens: 'cacheWriteTokens',
  requested_model: 'requestedModel',
  key_hash: 'keyHash',
  // SQLite migration 6, PostgreSQL migration 10: insights (docs/insights.md#fingerprints).
  request_fp: 'requestFp',
  prefix_fp: 'prefixFp',
  prefix_tokens: 'prefixTokens',
  output_limit: 'outputLimit',
} as const satisfies Record<string, keyof UsageRecord>;

export type UsageColumn = keyof typeof USAGE_COLUMNS;

export const USAGE_COLUMN_NAMES = Object.keys(USAGE_COLUMNS) as UsageColumn[];

/** `request_id, ts, …`: for INSERT and SELECT lists. */
export const USAGE_COLUMN_LIST = USAGE_COLUMN_NAMES.join(', ');

/** A record with every optional field filled in with its column's default. */
export type CompleteUsage = Required<UsageRecord>;

/** The record as the usage row stores it: absent optional fields take their column defaults. */
export function completeUsage(u: UsageRecord): CompleteUsage {
  return {
    ...u,
    cacheWriteTokens: u.cacheWriteTokens ?? 0,
    requestedModel: u.requestedModel ?? null,
    keyHash: u.keyHash ?? null,
    requestFp: u.requestFp ?? null,
    prefixFp: u.prefixFp ?? null,
    prefixTokens: u.prefixTokens ?? 0,
    outputLimit: u.outputLimit ?? null,
  };
}

export type UsageValue = CompleteUsage[keyof CompleteUsage];

/**
 * The record's values in USAGE_COLUMN_NAMES order, each passed through `encode` (the driver's
 * spelling: SQLite has no booleans, PostgreSQL takes money as decimal text).
 */
export function usageColumnValues<T>(
  u: UsageRecord,
  encode: (column: UsageColumn, value: UsageValue) => T,
): T[] {
  const full = completeUsage(u);
  return USAGE_COLUMN_NAMES.map((c) => encode(c, full[USAGE_COLUMNS[c]]));
}

/** A usage row as the drivers return it: SQLite keeps `stream` as 0/1, PostgreSQL as a boolean. */
export type UsageDbRow = {
  [C in UsageColumn]: C extends 'stream' ? number | boolean : CompleteUsage[(typeof USAGE_COLUMNS)[C]];
};

export function usageFromRow(r: UsageDbRow): UsageRecord {
  const u: Record<string, unknown> = {};
  for (const c of USAGE_COLUMN_NAMES) u[USAGE_COLUMNS[c]] = r[c];
  u.stream = r.stream === true || r.stream === 1;
  return u as unknown as UsageRecord;
}
