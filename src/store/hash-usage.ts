import type { UsageRow } from './types.js';

/**
 * `--by hash` (and the admin API's `by=hash`): one row per key and hash prefix, with when it was
 * last used, so a rotation can tell when the old hash went quiet. Shared by both stores so that
 * their rows and order are the same.
 */

export interface HashGroupRow {
  key: string;
  hash: string | null;
  requests: number | string;
  errors: number | string;
  input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number | string;
  last_used: number | string;
}

/** Rows by key name, then most recently used hash first. */
export function toHashRows(rows: readonly HashGroupRow[]): UsageRow[] {
  return rows
    .map((r) => ({
      key: r.key,
      hash: r.hash,
      requests: Number(r.requests),
      errors: Number(r.errors),
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      cost_usd: Number(r.cost_usd),
      last_used: new Date(Number(r.last_used)).toISOString(),
    }))
    .sort((a, b) => a.key.localeCompare(b.key) || b.last_used.localeCompare(a.last_used));
}

/** The SELECT list both stores group by (key, key_hash) with. */
export const HASH_GROUP_SELECT = `key, key_hash AS hash, COUNT(*) AS requests,
  SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
  SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, SUM(cost_usd) AS cost_usd,
  MAX(ts) AS last_used`;
