import type { Migration } from '../migration.js';

/**
 * Migration 11: the insight rollup (docs/insights.md#cost, src/store/insight-plan.ts).
 *
 * - usage_insight_days: per UTC day, key, model, user agent and IP (as recorded, '' for none),
 *   the sums the insight rules read, so that findings read one row per client and day instead of
 *   every record. "Long" (32,000+ input tokens) and "small" (under 1,000 input and output tokens)
 *   are the thresholds of src/insights/thresholds.ts, fixed here; a reader asking others reads
 *   the records. n0…n23 and c0…c23 are the requests and cost of each UTC hour of the day: local
 *   working hours in any zone are whole UTC hours (or read from the records where they are not).
 * - Kept by a trigger on usage, in the writer's own transaction (the group commit's batch): every
 *   path that writes a record (settle, recovery, benches, imports) keeps it without knowing. One
 *   trigger adding to all 24 hours' columns (zero to all but one) costs less per record than 24 triggers
 *   each adding to its own hour (measured: ~10 µs of CPU against ~30). Records without a key are
 *   nobody's spend and are left out, as the insight reads leave them out. A record deleted (the
 *   sweep's record that a late settle takes back, sqlite/unsweep.ts) or changed is taken out of
 *   its row (and a changed one added again).
 * - usage_key_prefix_cover replaces usage_key_prefix_fp: the same rows with every column the
 *   prefix read needs, so that read is answered from the index alone.
 * - usage_key_ts_input replaces usage_key_ts: the same order with the input tokens, so a key's
 *   median and p95 input (long_context) are read from the index alone, not from a row each.
 * - The rollup is filled from the records already stored.
 */

const HOURS = Array.from({ length: 24 }, (_, h) => h);
const SUMS = `requests, errors, with_input, input_tokens, cached_tokens, cache_write_tokens, output_tokens,
  cost_usd, long_requests, long_cost_usd, small_requests, small_input_tokens, small_cached_tokens,
  small_cache_write_tokens, small_output_tokens, small_cost_usd, capped_requests, capped_cost_usd`;
const SUM_NAMES = SUMS.split(',').map((s) => s.trim());

/** The sums of one record `r`, in the order of SUMS. */
function recordSums(r: string): string[] {
  const long = `${r}.input_tokens >= 32000`;
  const small = `${r}.input_tokens > 0 AND ${r}.input_tokens < 1000 AND ${r}.output_tokens < 1000`;
  const capped = `${r}.output_limit > 0 AND ${r}.output_tokens >= ${r}.output_limit`;
  const when = (c: string, v: string) => `CASE WHEN ${c} THEN ${v} ELSE 0 END`;
  return [
    '1',
    when(`${r}.status >= 400`, '1'),
    when(`${r}.input_tokens > 0`, '1'),
    `${r}.input_tokens`,
    `${r}.cached_tokens`,
    `${r}.cache_write_tokens`,
    `${r}.output_tokens`,
    `${r}.cost_usd`,
    when(long, '1'),
    when(long, `${r}.cost_usd`),
    when(small, '1'),
    when(small, `${r}.input_tokens`),
    when(small, `${r}.cached_tokens`),
    when(small, `${r}.cache_write_tokens`),
    when(small, `${r}.output_tokens`),
    when(small, `${r}.cost_usd`),
    when(capped, '1'),
    when(capped, `${r}.cost_usd`),
  ];
}

const GROUP = `key, day, model, user_agent, ip`;
const groupOf = (r: string) =>
  `${r}.key, ${r}.ts - ${r}.ts % 86400000, coalesce(${r}.model, ''), coalesce(${r}.user_agent, ''), coalesce(${r}.ip, '')`;

const HOUR_COLUMNS = `${HOURS.map((h) => `n${h}`).join(', ')}, ${HOURS.map((h) => `c${h}`).join(', ')}`;
const hourOf = (r: string) => `${r}.ts % 86400000 / 3600000`;

/** Adds record `r` (NEW or OLD) to its rollup row, or takes it out (`sign` -1). */
function upsert(r: 'NEW' | 'OLD', sign: 1 | -1): string {
  const signed = (e: string) => (sign === 1 ? e : `-(${e})`);
  return `INSERT INTO usage_insight_days (${GROUP}, ${SUMS}, ${HOUR_COLUMNS})
        SELECT ${groupOf(r)}, ${recordSums(r).map(signed).join(', ')},
          ${HOURS.map((h) => signed(`${hourOf(r)} = ${h}`)).join(', ')},
          ${HOURS.map((h) => signed(`CASE WHEN ${hourOf(r)} = ${h} THEN ${r}.cost_usd ELSE 0 END`)).join(', ')}
        WHERE ${r}.key <> ''
        ON CONFLICT (${GROUP}) DO UPDATE SET
          ${[...SUM_NAMES, ...HOURS.map((h) => `n${h}`), ...HOURS.map((h) => `c${h}`)]
            .map((c) => `${c} = ${c} + excluded.${c}`)
            .join(', ')};`;
}

const triggers = `CREATE TRIGGER usage_insight_days_add AFTER INSERT ON usage WHEN NEW.key <> ''
    BEGIN
      ${upsert('NEW', 1)}
    END;
    CREATE TRIGGER usage_insight_days_remove AFTER DELETE ON usage WHEN OLD.key <> ''
    BEGIN
      ${upsert('OLD', -1)}
    END;
    CREATE TRIGGER usage_insight_days_change AFTER UPDATE OF key, ts, model, user_agent, ip, status,
      input_tokens, cached_tokens, cache_write_tokens, output_tokens, cost_usd, output_limit ON usage
    BEGIN
      ${upsert('OLD', -1)}
      ${upsert('NEW', 1)}
    END;`;

const backfill = `INSERT INTO usage_insight_days (${GROUP}, ${SUMS}, ${HOUR_COLUMNS})
  SELECT ${groupOf('u')}, ${SUM_NAMES.map((_, i) => `sum(s${i})`).join(', ')},
    ${HOURS.map((h) => `sum(CASE WHEN hour = ${h} THEN 1 ELSE 0 END)`).join(', ')},
    ${HOURS.map((h) => `sum(CASE WHEN hour = ${h} THEN cost_usd ELSE 0 END)`).join(', ')}
  FROM (SELECT u.*, ${hourOf('u')} AS hour,
      ${recordSums('u')
        .map((e, i) => `${e} AS s${i}`)
        .join(', ')}
    FROM usage u WHERE u.key <> '') u
  GROUP BY 1, 2, 3, 4, 5`;

export const MIGRATION_11: Migration = {
  version: 11,
  name: 'insight rollup: sums per key, model, client and UTC day, kept by triggers',
  sql: `
      CREATE TABLE usage_insight_days (
        key TEXT NOT NULL,
        day INTEGER NOT NULL,
        model TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        ip TEXT NOT NULL,
        ${SUM_NAMES.map((c) => `${c} ${c.endsWith('usd') ? 'REAL' : 'INTEGER'} NOT NULL DEFAULT 0`).join(',\n        ')},
        ${HOURS.map((h) => `n${h} INTEGER NOT NULL DEFAULT 0, c${h} REAL NOT NULL DEFAULT 0`).join(',\n        ')},
        PRIMARY KEY (day, key, model, user_agent, ip)
      ) WITHOUT ROWID;
      CREATE INDEX usage_insight_days_key ON usage_insight_days (key, day);
      ${triggers}
      ${backfill};
      CREATE INDEX usage_key_prefix_cover ON usage
        (key, prefix_fp, model, ts, status, cached_tokens, prefix_tokens, cost_usd) WHERE prefix_fp IS NOT NULL;
      DROP INDEX usage_key_prefix_fp;
      CREATE INDEX usage_key_ts_input ON usage (key, ts, input_tokens);
      DROP INDEX usage_key_ts;
    `,
};
