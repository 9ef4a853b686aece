import type { Migration } from '../migration.js';

/**
 * Migration 13: the store's recorder writes the insight rollup (usage_insight_days, migration 11)
 * once per rollup row, UTC hour and batch, not once per record; a trigger keeps it for every other
 * writer.
 *
 * Migration 11's trigger upserted the record's ~70-column rollup row (18 sums, 48 hour columns) on
 * every insert: about half of what writing a usage record cost. The store's recorder
 * (src/store/sqlite/usage-writes.ts, batch-rollup.ts), which writes the records of settle and of
 * the reservation sweep, now sums a transaction's records per rollup row and hour in JavaScript
 * (migration 11's definitions) and upserts each once before the COMMIT, binding and adding the 18
 * sums and that hour's two columns (as PostgreSQL's leased settle does, PostgreSQL migration 21),
 * and usage_daily likewise; it marks the records it wrote `batch_rollup` = 1.
 *
 * - usage.batch_rollup: NULL (every record before this migration, and every record another writer
 *   adds: the sqlite3 shell, an import, an older build) or 1 (the store's recorder summed it into
 *   the rollups itself). Nothing else reads it; 1 costs one byte of the row's header.
 * - usage_insight_days_add rolls up only records without the mark, with migration 11's upsert. Its
 *   body only hands the record to the view usage_insight_days_added, whose INSTEAD OF trigger runs
 *   the upsert: SQLite evaluates a trigger's WHEN inside the trigger's program, after allocating
 *   and zeroing that program's registers, on every row. With the ~70-column upsert in the trigger
 *   itself a marked record still paid ~27,000 instructions for them (callgrind: the memset of
 *   OP_Program's frame); the small trigger's frame is small, and the upsert's program runs only
 *   for unmarked records.
 * - The delete and update triggers stay as they are: whoever added a record, it is in the rollup,
 *   so taking it out (the unsweep's delete) or changing it (a correction) is the same.
 *
 * Measured in instructions (valgrind --tool=callgrind, bench/sqlite-write-instructions.ts, 10
 * keys, one model and client, the difference between two counts per unit): a record written by
 * the store's recorder in transactions of 20, 159k before → 90k; a record inserted unmarked
 * (another writer) 181k; a reserve + settle through the store 346k → 285k.
 */

const HOURS = Array.from({ length: 24 }, (_, h) => h);
const SUMS = `requests, errors, with_input, input_tokens, cached_tokens, cache_write_tokens, output_tokens,
  cost_usd, long_requests, long_cost_usd, small_requests, small_input_tokens, small_cached_tokens,
  small_cache_write_tokens, small_output_tokens, small_cost_usd, capped_requests, capped_cost_usd`;
const SUM_NAMES = SUMS.split(',').map((s) => s.trim());
const GROUP = 'key, day, model, user_agent, ip';
const HOUR_COLUMNS = `${HOURS.map((h) => `n${h}`).join(', ')}, ${HOURS.map((h) => `c${h}`).join(', ')}`;
const hour = `NEW.ts % 86400000 / 3600000`;

/** Migration 11's sums of one new record, in the order of SUMS. */
function newRecordSums(): string[] {
  const long = 'NEW.input_tokens >= 32000';
  const small = 'NEW.input_tokens > 0 AND NEW.input_tokens < 1000 AND NEW.output_tokens < 1000';
  const capped = 'NEW.output_limit > 0 AND NEW.output_tokens >= NEW.output_limit';
  const when = (c: string, v: string) => `CASE WHEN ${c} THEN ${v} ELSE 0 END`;
  return [
    '1',
    when('NEW.status >= 400', '1'),
    when('NEW.input_tokens > 0', '1'),
    'NEW.input_tokens',
    'NEW.cached_tokens',
    'NEW.cache_write_tokens',
    'NEW.output_tokens',
    'NEW.cost_usd',
    when(long, '1'),
    when(long, 'NEW.cost_usd'),
    when(small, '1'),
    when(small, 'NEW.input_tokens'),
    when(small, 'NEW.cached_tokens'),
    when(small, 'NEW.cache_write_tokens'),
    when(small, 'NEW.output_tokens'),
    when(small, 'NEW.cost_usd'),
    when(capped, '1'),
    when(capped, 'NEW.cost_usd'),
  ];
}

const addNew = `INSERT INTO usage_insight_days (${GROUP}, ${SUMS}, ${HOUR_COLUMNS})
        SELECT NEW.key, NEW.ts - NEW.ts % 86400000, coalesce(NEW.model, ''), coalesce(NEW.user_agent, ''),
          coalesce(NEW.ip, ''), ${newRecordSums().join(', ')},
          ${HOURS.map((h) => `${hour} = ${h}`).join(', ')},
          ${HOURS.map((h) => `CASE WHEN ${hour} = ${h} THEN NEW.cost_usd ELSE 0 END`).join(', ')}
        WHERE NEW.key <> ''
        ON CONFLICT (${GROUP}) DO UPDATE SET
          ${[...SUM_NAMES, ...HOURS.map((h) => `n${h}`), ...HOURS.map((h) => `c${h}`)]
            .map((c) => `${c} = ${c} + excluded.${c}`)
            .join(', ')};`;

/** The record's values the rollup reads, as the view below names them. */
const RECORD = `key, ts, model, user_agent, ip, status, input_tokens, cached_tokens, cache_write_tokens,
  output_tokens, cost_usd, output_limit`;

export const MIGRATION_13: Migration = {
  version: 13,
  name: "insight rollup: the store's recorder writes it per batch; the trigger keeps other writers'",
  sql: `
      ALTER TABLE usage ADD COLUMN batch_rollup INTEGER;
      DROP TRIGGER usage_insight_days_add;
      CREATE VIEW usage_insight_days_added AS SELECT ${RECORD} FROM usage WHERE 0;
      CREATE TRIGGER usage_insight_days_added_upsert INSTEAD OF INSERT ON usage_insight_days_added
      BEGIN
        ${addNew}
      END;
      CREATE TRIGGER usage_insight_days_add AFTER INSERT ON usage
        WHEN NEW.key <> '' AND NEW.batch_rollup IS NULL
      BEGIN
        INSERT INTO usage_insight_days_added (${RECORD})
          VALUES (${RECORD.split(',')
            .map((c) => `NEW.${c.trim()}`)
            .join(', ')});
      END;
    `,
};
