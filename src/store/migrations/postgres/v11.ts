import type { Migration } from '../migration.js';

/** Migration 11: the bill check's rows, one per UTC day, upstream and model (docs/bill-check.md). */
export const MIGRATION_11: Migration = {
  version: 11,
  name: 'bill check rows',
  sql: `
    CREATE TABLE bill_checks (
      date text NOT NULL,
      upstream text NOT NULL,
      model text NOT NULL,
      verdict text NOT NULL,
      metered_usd float8 NOT NULL,
      billed_usd float8,
      delta_usd float8,
      metered_tokens text NOT NULL,
      billed_tokens text,
      detail text NOT NULL,
      checked_at bigint NOT NULL,
      PRIMARY KEY (date, upstream, model)
    );
  `,
};
