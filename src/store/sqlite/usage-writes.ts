import type { Database } from 'better-sqlite3';
import type { UsageRecord } from '../types.js';
import {
  STORED_USAGE_COLUMN_NAMES,
  USAGE_COLUMN_LIST,
  type UsageValue,
  usageColumnValues,
} from '../usage-columns.js';
import { createBatchRollup } from './batch-rollup.js';

type SqliteValue = Exclude<UsageValue, boolean>;

/** SQLite has no booleans: `stream` is stored as 0/1. */
const sqliteValue = (_column: string, v: UsageValue): SqliteValue =>
  typeof v === 'boolean' ? (v ? 1 : 0) : v;

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
      const inserted =
        insertUsage.run(...usageColumnValues(u, sqliteValue, STORED_USAGE_COLUMN_NAMES)).changes > 0;
      if (inserted) rollup.add(u);
      return inserted;
    },
    flush: rollup.flush,
    discard: rollup.discard,
  };
}
