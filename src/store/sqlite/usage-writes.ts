import type { Database } from 'better-sqlite3';
import type { UsageRecord } from '../types.js';
import {
  STORED_USAGE_COLUMN_NAMES,
  USAGE_COLUMN_LIST,
  type UsageValue,
  usageColumnValues,
} from '../usage-columns.js';

type SqliteValue = Exclude<UsageValue, boolean>;

/** SQLite has no booleans: `stream` is stored as 0/1. */
const sqliteValue = (_column: string, v: UsageValue): SqliteValue =>
  typeof v === 'boolean' ? (v ? 1 : 0) : v;

/**
 * Writes one usage record and adds it to the daily rollup, as settle does, inside the caller's
 * transaction; false when this request id was already recorded (nothing written). The benches
 * fill their stores through this too, so they write what the store writes.
 */
export type RecordUsage = (u: UsageRecord) => boolean;

export function createUsageRecorder(db: Database): RecordUsage {
  const insertUsage = db.prepare<[SqliteValue[]]>(`
    INSERT INTO usage (${USAGE_COLUMN_LIST}) VALUES (${STORED_USAGE_COLUMN_NAMES.map(() => '?').join(', ')})
    ON CONFLICT (request_id) DO NOTHING`);
  const addDaily = db.prepare<[string, string, string, number, number, number, number]>(`
    INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
    VALUES (?, ?, ?, ?, 1, ?, ?, ?)
    ON CONFLICT (day, key, model, status) DO UPDATE SET
      requests = requests + 1,
      input_tokens = input_tokens + excluded.input_tokens,
      output_tokens = output_tokens + excluded.output_tokens,
      cost_usd = cost_usd + excluded.cost_usd`);
  return (u) => {
    const inserted =
      insertUsage.run(usageColumnValues(u, sqliteValue, STORED_USAGE_COLUMN_NAMES)).changes > 0;
    if (inserted)
      addDaily.run(u.day, u.key, u.model ?? '', u.status, u.inputTokens, u.outputTokens, u.costUsd);
    return inserted;
  };
}
