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

/**
 * SQLite migration 8 / PostgreSQL migration 12: what an image or audio request was
 * (docs/api.md#images-and-audio). Both stores write them with the row, in the settle's one
 * statement: PostgreSQL's settle functions take them after the columns of USAGE_COLUMNS
 * (migration 19, where they default to NULL for replicas on older code).
 */
export const MEDIA_USAGE_COLUMNS = {
  images: 'images',
  audio_seconds: 'audioSeconds',
  characters: 'characters',
} as const satisfies Record<string, keyof UsageRecord>;

const ALL_COLUMNS = { ...USAGE_COLUMNS, ...MEDIA_USAGE_COLUMNS };

/** The columns the settle functions take (PostgreSQL's argument order). */
export type UsageColumn = keyof typeof USAGE_COLUMNS;
/** Every column of the usage row. */
export type StoredUsageColumn = keyof typeof ALL_COLUMNS;

export const USAGE_COLUMN_NAMES = Object.keys(USAGE_COLUMNS) as UsageColumn[];
export const MEDIA_USAGE_COLUMN_NAMES = Object.keys(
  MEDIA_USAGE_COLUMNS,
) as (keyof typeof MEDIA_USAGE_COLUMNS)[];
export const STORED_USAGE_COLUMN_NAMES = Object.keys(ALL_COLUMNS) as StoredUsageColumn[];

/** `request_id, ts, …, characters`: every column, for INSERT and SELECT lists. */
export const USAGE_COLUMN_LIST = STORED_USAGE_COLUMN_NAMES.join(', ');

/** A record with every optional field filled in with its column's default. */
export type CompleteUsage = Required<UsageRecord>;

/** The column defaults of the optional fields: what an absent (or null) field is stored as. */
const DEFAULTS = {
  cacheWriteTokens: 0,
  requestedModel: null,
  keyHash: null,
  requestFp: null,
  prefixFp: null,
  prefixTokens: 0,
  outputLimit: null,
  images: null,
  audioSeconds: null,
  characters: null,
} as const satisfies Partial<CompleteUsage>;

/** The record as the usage row stores it: absent optional fields take their column defaults. */
export function completeUsage(u: UsageRecord): CompleteUsage {
  return {
    ...u,
    cacheWriteTokens: u.cacheWriteTokens ?? DEFAULTS.cacheWriteTokens,
    requestedModel: u.requestedModel ?? DEFAULTS.requestedModel,
    keyHash: u.keyHash ?? DEFAULTS.keyHash,
    requestFp: u.requestFp ?? DEFAULTS.requestFp,
    prefixFp: u.prefixFp ?? DEFAULTS.prefixFp,
    prefixTokens: u.prefixTokens ?? DEFAULTS.prefixTokens,
    outputLimit: u.outputLimit ?? DEFAULTS.outputLimit,
    images: u.images ?? DEFAULTS.images,
    audioSeconds: u.audioSeconds ?? DEFAULTS.audioSeconds,
    characters: u.characters ?? DEFAULTS.characters,
  };
}

export type UsageValue = CompleteUsage[keyof CompleteUsage];

/** Per column: the record field it holds, and whether an absent field takes DEFAULTS' value. */
const FIELD_OF: Record<string, { field: keyof UsageRecord; defaulted: boolean }> = Object.fromEntries(
  Object.entries(ALL_COLUMNS).map(([column, field]) => [
    column,
    { field, defaulted: Object.hasOwn(DEFAULTS, field) },
  ]),
);

/**
 * The record's values in USAGE_COLUMN_NAMES order, each passed through `encode` (the driver's
 * spelling: SQLite has no booleans, PostgreSQL takes money as decimal text). What completeUsage
 * gives, read field by field: this runs on every settle, and a copy of the record per call was
 * garbage the request path did not need.
 */
export function usageColumnValues<T, C extends StoredUsageColumn = UsageColumn>(
  u: UsageRecord,
  encode: (column: C, value: UsageValue) => T,
  names: readonly C[] = USAGE_COLUMN_NAMES as C[],
): T[] {
  const values = new Array<T>(names.length);
  for (let i = 0; i < names.length; i++) {
    const column = names[i] as C;
    const { field, defaulted } = FIELD_OF[column] as { field: keyof UsageRecord; defaulted: boolean };
    const value = u[field] as UsageValue;
    values[i] = encode(column, defaulted ? (value ?? DEFAULTS[field as keyof typeof DEFAULTS]) : value);
  }
  return values;
}

/** A usage row as the drivers return it: SQLite keeps `stream` as 0/1, PostgreSQL as a boolean. */
export type UsageDbRow = {
  [C in StoredUsageColumn]: C extends 'stream' ? number | boolean : CompleteUsage[(typeof ALL_COLUMNS)[C]];
};

export function usageFromRow(r: UsageDbRow): UsageRecord {
  const u: Record<string, unknown> = {};
  for (const c of STORED_USAGE_COLUMN_NAMES) u[ALL_COLUMNS[c]] = r[c];
  u.stream = r.stream === true || r.stream === 1;
  return u as unknown as UsageRecord;
}
