import type { Migration } from '../migration.js';

/**
 * Migration 20: the insight rollup (docs/insights.md#cost, src/store/insight-plan.ts); SQLite's
 * migration 11 has the same table.
 *
 * - usage_insight_days: per UTC day, key, model, user agent and IP (as recorded, '' for none),
 *   the sums the insight rules read, so that findings read one row per client and day instead of
 *   every record. "Long" (32,000+ input tokens) and "small" (under 1,000 input and output tokens)
 *   are the thresholds of src/insights/thresholds.ts, fixed here; a reader asking others reads
 *   the records. n0…n23 and c0…c23 are the requests and cost of each UTC hour of the day.
 * - Kept by a trigger on usage, in the writer's own transaction, so every path that writes or
 *   corrects a record (the batched settles, leased settles, recovery, a lease's late uncharge)
 *   keeps it without knowing. The trigger is deferred to the commit: the settle functions lock
 *   spend rows, then rollup rows, in one global order, and a rollup row locked at the usage insert
 *   (before the spend rows of tollgate_settle_spend) would break that order and could deadlock
 *   against a batch. At commit a transaction holds its spend rows already; two that would meet
 *   on a rollup row (same key) have met on the key's spend rows first.
 * - usage_key_prefix_cover replaces usage_key_prefix_fp: the same rows with every column the
 *   prefix read needs, so that read is answered from the index alone.
 * - usage_key_ts_input replaces usage_key_ts: the same order with the input tokens, so a key's
 *   median and p95 input (long_context) are read from the index alone, not from a row each.
 * - The rollup is filled from the records already stored, after the trigger exists: the trigger
 *   takes a lock that holds back inserts until this migration commits, so none is missed.
 */

export const HOURS = Array.from({ length: 24 }, (_, h) => h);
export const SUM_NAMES = [
  'requests',
  'errors',
  'with_input',
  'input_tokens',
  'cached_tokens',
  'cache_write_tokens',
  'output_tokens',
  'cost_usd',
  'long_requests',
  'long_cost_usd',
  'small_requests',
  'small_input_tokens',
  'small_cached_tokens',
  'small_cache_write_tokens',
  'small_output_tokens',
  'small_cost_usd',
  'capped_requests',
  'capped_cost_usd',
];
export const SUMS = SUM_NAMES.join(', ');
export const HOUR_COLUMNS = `${HOURS.map((h) => `n${h}`).join(', ')}, ${HOURS.map((h) => `c${h}`).join(', ')}`;

/** The sums of one record `r`, in the order of SUM_NAMES. */
export function recordSums(r: string): string[] {
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

export const GROUP = 'key, day, model, user_agent, ip';
export const groupOf = (r: string) =>
  `${r}.key, ${r}.ts - ${r}.ts % 86400000, coalesce(${r}.model, ''), coalesce(${r}.user_agent, ''), coalesce(${r}.ip, '')`;
export const hourOf = (r: string) => `${r}.ts % 86400000 / 3600000`;

const addFunction = `CREATE FUNCTION tollgate_insight_days_add(u usage, s integer) RETURNS void
    LANGUAGE plpgsql AS $fn$
    BEGIN
      IF u.key = '' THEN
        RETURN;
      END IF;
      INSERT INTO usage_insight_days AS d (${GROUP}, ${SUMS}, ${HOUR_COLUMNS})
      VALUES (${groupOf('u')}, ${recordSums('u')
        .map((e) => `s * ${e}`)
        .join(', ')},
        ${HOURS.map((h) => `CASE WHEN ${hourOf('u')} = ${h} THEN s ELSE 0 END`).join(', ')},
        ${HOURS.map((h) => `CASE WHEN ${hourOf('u')} = ${h} THEN s * u.cost_usd ELSE 0 END`).join(', ')})
      ON CONFLICT (${GROUP}) DO UPDATE SET
        ${[...SUM_NAMES, ...HOURS.map((h) => `n${h}`), ...HOURS.map((h) => `c${h}`)]
          .map((c) => `${c} = d.${c} + EXCLUDED.${c}`)
          .join(', ')};
    END
    $fn$;`;

const backfill = `INSERT INTO usage_insight_days (${GROUP}, ${SUMS}, ${HOUR_COLUMNS})
  SELECT ${groupOf('u')}, ${SUM_NAMES.map((_, i) => `sum(s${i})`).join(', ')},
    ${HOURS.map((h) => `sum(CASE WHEN hour = ${h} THEN 1 ELSE 0 END)`).join(', ')},
    ${HOURS.map((h) => `sum(CASE WHEN hour = ${h} THEN cost_usd ELSE 0 END)`).join(', ')}
  FROM (SELECT u.*, ${hourOf('u')} AS hour, ${recordSums('u')
    .map((e, i) => `${e} AS s${i}`)
    .join(', ')}
    FROM usage u WHERE u.key <> '') u
  GROUP BY 1, 2, 3, 4, 5`;

export const MIGRATION_20: Migration = {
  version: 20,
  name: 'insight rollup: sums per key, model, client and UTC day, kept by a deferred trigger',
  sql: `
    CREATE TABLE usage_insight_days (
      key text NOT NULL,
      day bigint NOT NULL,
      model text NOT NULL,
      user_agent text NOT NULL,
      ip text NOT NULL,
      ${SUM_NAMES.map((c) => `${c} ${c.endsWith('usd') ? 'numeric' : 'bigint'} NOT NULL DEFAULT 0`).join(',\n      ')},
      ${HOURS.map((h) => `n${h} bigint NOT NULL DEFAULT 0, c${h} numeric NOT NULL DEFAULT 0`).join(',\n      ')},
      PRIMARY KEY (day, key, model, user_agent, ip)
    );
    CREATE INDEX usage_insight_days_key ON usage_insight_days (key, day);

    ${addFunction}

    CREATE FUNCTION tollgate_insight_days_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        PERFORM tollgate_insight_days_add(OLD, -1);
      END IF;
      IF TG_OP <> 'DELETE' THEN
        PERFORM tollgate_insight_days_add(NEW, 1);
      END IF;
      RETURN NULL;
    END
    $fn$;

    CREATE CONSTRAINT TRIGGER usage_insight_days_kept
      AFTER INSERT OR DELETE OR UPDATE OF key, ts, model, user_agent, ip, status, input_tokens, cached_tokens,
        cache_write_tokens, output_tokens, cost_usd, output_limit ON usage
      DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION tollgate_insight_days_changed();

    ${backfill};

    CREATE INDEX usage_key_prefix_cover ON usage (key, prefix_fp)
      INCLUDE (model, ts, status, cached_tokens, prefix_tokens, cost_usd) WHERE prefix_fp IS NOT NULL;
    DROP INDEX usage_key_prefix_fp;
    CREATE INDEX usage_key_ts_input ON usage (key, ts) INCLUDE (input_tokens);
    DROP INDEX usage_key_ts;
  `,
};
