import type { Migration } from '../migration.js';

/**
 * Migration 16: indexes for the insight reads (src/store/insight-sql.ts, docs/insights.md).
 *
 * - usage_key_request_fp: repeats count each key's fingerprints; with the fingerprint and time in
 *   the index they are counted from it alone, in order, instead of sorting every record's row.
 * - usage_key_prefix_fp: only requests with a long prompt prefix carry a prefix fingerprint, so
 *   this partial index is small and lets the cache rule read just those rows.
 *
 * Both are partial (NULL fingerprints are left out), to keep the write cost of each request small.
 */
export const MIGRATION_16: Migration = {
  version: 16,
  name: 'insight indexes: request and prefix fingerprints by key',
  sql: `
      CREATE INDEX IF NOT EXISTS usage_key_request_fp ON usage (key, request_fp, ts) WHERE request_fp IS NOT NULL;
      CREATE INDEX IF NOT EXISTS usage_key_prefix_fp ON usage (key, prefix_fp) WHERE prefix_fp IS NOT NULL;
    `,
};
