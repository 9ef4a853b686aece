import type { Migration } from '../migration.js';

export const MIGRATION_6: Migration = {
  version: 6,
  name: 'usage: request and prompt-prefix fingerprints, output limit; secrets',
  // Insights (docs/insights.md): keyed hashes that find loops, retries and uncached prefixes,
  // the output limit a request was sent with (answers cut at it), and the HMAC secret, kept
  // apart from the usage table so that the hashes there confirm nothing without it.
  sql: `
      ALTER TABLE usage ADD COLUMN request_fp TEXT;
      ALTER TABLE usage ADD COLUMN prefix_fp TEXT;
      ALTER TABLE usage ADD COLUMN prefix_tokens INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE usage ADD COLUMN output_limit INTEGER;
      CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
};
