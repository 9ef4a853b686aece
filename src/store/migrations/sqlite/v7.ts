import type { Migration } from '../migration.js';

/** Migration 7: the bill check's rows, one per UTC day, upstream and model (docs/bill-check.md). */
export const MIGRATION_7: Migration = {
  version: 7,
  name: 'bill check rows',
  sql: `
    CREATE TABLE bill_checks (
      date TEXT NOT NULL,
      upstream TEXT NOT NULL,
      model TEXT NOT NULL,
      verdict TEXT NOT NULL,
      metered_usd REAL NOT NULL,
      billed_usd REAL,
      delta_usd REAL,
      metered_tokens TEXT NOT NULL,
      billed_tokens TEXT,
      detail TEXT NOT NULL,
      checked_at INTEGER NOT NULL,
      PRIMARY KEY (date, upstream, model)
    ) WITHOUT ROWID;
  `,
};
