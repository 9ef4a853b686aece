import { describe, expect, it } from 'vitest';
import { sqliteUsageRow } from '../../../src/store/sqlite/usage-writes.js';
import type { UsageRecord } from '../../../src/store/types.js';
import { STORED_USAGE_COLUMN_NAMES, usageColumnValues } from '../../../src/store/usage-columns.js';
import { fullUsageRecord } from '../../helpers/usage-record.js';

const full = fullUsageRecord;

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
