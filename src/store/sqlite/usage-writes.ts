import type { Database } from 'better-sqlite3';
import type { UsageRecord } from '../types.js';
import { STORED_USAGE_COLUMN_NAMES, USAGE_COLUMN_LIST, type UsageValue } from '../usage-columns.js';
import { createBatchRollup } from './batch-rollup.js';

export type SqliteValue = Exclude<UsageValue, boolean>;

/**
 * The record's usage row as SQLite stores it, in STORED_USAGE_COLUMN_NAMES order: what
 * `usageColumnValues(u, …, STORED_USAGE_COLUMN_NAMES)` gives, with `stream` as 0/1 (SQLite has no
 * booleans) and an absent optional field as its column default. Written out field by field because
 * this runs on every settle: usageColumnValues reads each field by a computed name, which V8 serves
 * through its megamorphic keyed load, ~10,000 instructions per record (callgrind, ~5% of a reserve
 * and settle); named loads cost next to nothing. test/unit/store/sqlite-usage-row.test.ts holds
 * the two to the same values in the same order, so a column added to usage-columns.ts without
 * its field here fails it.
 */
export function sqliteUsageRow(u: UsageRecord): SqliteValue[] {
  return [
    u.requestId,
    u.ts,
    u.day,
    u.key,
    u.model,
    u.upstream,
    u.route,
    u.status,
    u.errorCode,
    u.inputTokens,
    u.outputTokens,
    u.cachedTokens,
    u.costUsd,
    u.latencyMs,
    u.stream ? 1 : 0,
    u.userAgent,
    u.ip,
    u.configRevision,
    u.usageSource,
    u.cacheWriteTokens ?? 0,
    u.requestedModel ?? null,
    u.keyHash ?? null,
    u.requestFp ?? null,
    u.prefixFp ?? null,
    u.prefixTokens ?? 0,
    u.outputLimit ?? null,
    u.images ?? null,
    u.audioSeconds ?? null,
    u.characters ?? null,
  ];
}

/**
 * Writes usage records inside the caller's transaction, as settle and the reservation sweep do.
 * The benches fill their stores through this too, so they write what the store writes.
 *
 * The records' rollups (usage_daily, and the insight rollup usage_insight_days) are summed per
 * row as records are written and upserted once per row by `flush`, which must run last in the
 * same transaction (the group commit's `end` hook, the sweep's transaction); `discard` after a
 * rollback. The records are marked batch_rollup = 1, so the insight trigger of SQLite migration
 * 13 leaves them to `flush`; a record inserted any other way is rolled up by that trigger.
 */
export interface UsageRecorder {
  /** Writes one usage record; false when this request id was already recorded (nothing written). */
  record(u: UsageRecord): boolean;
  /** Writes the rollups of the records since the last flush (or discard). */
  flush(): void;
  /** Forgets them: their transaction rolled back. */
  discard(): void;
}

export function createUsageRecorder(db: Database): UsageRecorder {
  const insertUsage = db.prepare<SqliteValue[]>(`
    INSERT INTO usage (${USAGE_COLUMN_LIST}, batch_rollup)
    VALUES (${STORED_USAGE_COLUMN_NAMES.map(() => '?').join(', ')}, 1)
    ON CONFLICT (request_id) DO NOTHING`);
  const rollup = createBatchRollup(db);
  return {
    record(u) {
      const inserted = insertUsage.run(...sqliteUsageRow(u)).changes > 0;
      if (inserted) rollup.add(u);
      return inserted;
    },
    flush: rollup.flush,
    discard: rollup.discard,
  };
}
