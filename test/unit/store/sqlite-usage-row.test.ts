import { describe, expect, it } from 'vitest';
import { sqliteUsageRow } from '../../../src/store/sqlite/usage-writes.js';
import type { UsageRecord } from '../../../src/store/types.js';
import { STORED_USAGE_COLUMN_NAMES, usageColumnValues } from '../../../src/store/usage-columns.js';

// Required<…>: a field added to UsageRecord fails to compile here until the sample has it. Every
// value differs from the others, so a field read into the wrong column shows.
const full: Required<UsageRecord> = {
  requestId: 'r1',
  ts: 1_764_000_000_000,
  day: '2026-11-26',
  key: 'codex',
  model: 'gpt-5',
  upstream: 'openai',
  route: '/v1/chat/completions',
  status: 200,
  errorCode: 'upstream_timeout',
  inputTokens: 1200,
  outputTokens: 300,
  cachedTokens: 1000,
  cacheWriteTokens: 50,
  costUsd: 0.0123,
  latencyMs: 812,
  stream: true,
  userAgent: 'codex/1.0',
  ip: '10.0.0.1',
  configRevision: 'abc123',
  usageSource: 'provider',
  requestedModel: 'gpt-5-latest',
  keyHash: '0123456789ab',
  requestFp: '0123456789abcdef0123456789abcdef',
  prefixFp: 'fedcba9876543210fedcba9876543210',
  prefixTokens: 2048,
  outputLimit: 4096,
  images: 2,
  audioSeconds: 61.5,
  characters: 1234,
};

/** The mapping's own reading of the record, as the SQLite store wrote it before. */
const mapped = (u: UsageRecord) =>
  usageColumnValues(u, (_c, v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v), STORED_USAGE_COLUMN_NAMES);

describe("the SQLite store's usage row", () => {
  it('holds the values of usage-columns.ts, column by column, for full, partial and null records', () => {
    const { cacheWriteTokens, requestFp, images, requestedModel, ...older } = full;
    const withNulls = {
      ...older,
      stream: false,
      errorCode: null,
      keyHash: null,
      prefixFp: null,
      prefixTokens: null,
      outputLimit: null,
      audioSeconds: null,
      characters: null,
    } as unknown as UsageRecord;
    for (const u of [full, older, withNulls]) {
      expect(sqliteUsageRow(u)).toHaveLength(STORED_USAGE_COLUMN_NAMES.length);
      expect(sqliteUsageRow(u)).toEqual(mapped(u));
    }
  });
});
