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
import { fullUsageRecord } from '../../helpers/usage-record.js';

const full: Required<UsageRecord> = { ...fullUsageRecord, errorCode: null };

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
