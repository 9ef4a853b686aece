import { describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../../src/store/types.js';
import {
  completeUsage,
  MEDIA_USAGE_COLUMNS,
  STORED_USAGE_COLUMN_NAMES,
  USAGE_COLUMNS,
  type UsageDbRow,
  usageColumnValues,
  usageFromRow,
} from '../../../src/store/usage-columns.js';

// Required<…>: a field added to UsageRecord fails to compile here until the sample has it.
const full: Required<UsageRecord> = {
  requestId: 'r1',
  ts: 1_764_000_000_000,
  day: '2026-11-26',
  key: 'codex',
  model: 'gpt-5',
  upstream: 'openai',
  route: '/v1/chat/completions',
  status: 200,
  errorCode: null,
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

const rowOf = (u: UsageRecord, stream: (s: boolean) => number | boolean): UsageDbRow => {
  const values = usageColumnValues(
    u,
    (c, v) => (c === 'stream' ? stream(v as boolean) : v),
    STORED_USAGE_COLUMN_NAMES,
  );
  return Object.fromEntries(STORED_USAGE_COLUMN_NAMES.map((c, i) => [c, values[i]])) as UsageDbRow;
};

describe('the usage columns mapping', () => {
  it('gives every field of a usage record exactly one column', () => {
    expect([...Object.values(USAGE_COLUMNS), ...Object.values(MEDIA_USAGE_COLUMNS)].sort()).toEqual(
      Object.keys(full).sort(),
    );
  });

  it('reads back the record it wrote, with stream stored as 0/1 (SQLite) or a boolean (PostgreSQL)', () => {
    expect(usageFromRow(rowOf(full, (s) => (s ? 1 : 0)))).toEqual(full);
    expect(usageFromRow(rowOf({ ...full, stream: false }, (s) => s))).toEqual({ ...full, stream: false });
  });

  it('writes the column defaults for the optional fields a record leaves out', () => {
    const {
      cacheWriteTokens,
      requestedModel,
      keyHash,
      requestFp,
      prefixFp,
      prefixTokens,
      outputLimit,
      images,
      audioSeconds,
      characters,
      ...older
    } = full;
    expect(completeUsage(older)).toEqual({
      ...older,
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
    });
  });

  it("writes, column by column, what completeUsage gives: fields left out or null take the column's default", () => {
    const { cacheWriteTokens, requestFp, images, ...older } = full;
    const withNulls = {
      ...older,
      keyHash: null,
      prefixTokens: null,
      outputLimit: null,
    } as unknown as UsageRecord;
    for (const u of [full, older, withNulls]) {
      const complete = completeUsage(u);
      const expected = STORED_USAGE_COLUMN_NAMES.map(
        (c) => complete[({ ...USAGE_COLUMNS, ...MEDIA_USAGE_COLUMNS } as const)[c]],
      );
      expect(usageColumnValues(u, (_c, v) => v, STORED_USAGE_COLUMN_NAMES)).toEqual(expected);
    }
  });
});
