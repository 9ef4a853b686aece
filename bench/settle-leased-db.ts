/**
 * The database's CPU for the leased settle (tollgate_settle_leased), the statement that writes
 * nearly every request's usage record on a busy PostgreSQL replica: batches of 1, 8, 24 and 64
 * records of 10 keys, sent back to back on one connection, the backend's CPU read from /proc, and
 * the round trip each batch took (what a response waits for: its usage record's commit).
 * Splits the cost into a part per batch and a part per record (docs/postgres.md, capacity model).
 * Informational, not a test:
 *
 *   npx tsx bench/settle-leased-db.ts [seconds per size] [--history] [--upto N] [--many] [--record-only]
 *
 * --history: the spend and usage_daily tables first hold a year of 60 other keys' daily rows
 * (20,160 each), as a database that has served a while does; their size must not matter
 * (migration 24). --upto N: the schema stops at migration N, for an A/B of a migration in one
 * sitting (e.g. --upto 23 against the default, all of them). --many: the batched settle of keys
 * without leased budget (tollgate_settle_many, the same records without a lease) instead; its
 * usage_daily lock read the whole table before migration 25 (--upto 24 for the A/B).
 * --record-only: the floor under either, the same records' insert alone (one multi-row INSERT and
 * its commit, no spend, lease, usage_daily or rollup row): what a replica's durable commit of its
 * records would cost if nothing else moved with them (docs/postgres.md, several replicas).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { POSTGRES_MIGRATIONS } from '../src/store/migrations/postgres/index.js';
import { applyPostgresMigrations } from '../src/store/postgres/migrate.js';
import type { UsageRecord } from '../src/store/types.js';
import {
  completeUsage,
  MEDIA_USAGE_COLUMNS,
  STORED_USAGE_COLUMN_NAMES,
  USAGE_COLUMNS,
} from '../src/store/usage-columns.js';
import { createTestDatabase } from '../test/helpers/pg.js';
import { cpuOf } from './lib/proc-stats.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    history: { type: 'boolean', default: false },
    upto: { type: 'string' },
    many: { type: 'boolean', default: false },
    'record-only': { type: 'boolean', default: false },
  },
});
const seconds = Number(positionals[0] ?? 4);
const upto = values.upto === undefined ? Number.POSITIVE_INFINITY : Number(values.upto);
const PERIODS = [
  'd:2026-11-26',
  'w:2026-11-23',
  'm:2026-11',
  '@bench/d:2026-11-26',
  '@bench/w:2026-11-23',
  '@bench/m:2026-11',
];

const STORED_USAGE_FIELDS: Record<string, string> = { ...USAGE_COLUMNS, ...MEDIA_USAGE_COLUMNS };

let seq = 0;
function item(key: string) {
  const u: UsageRecord = {
    requestId: `r-${seq++}`,
    ts: Date.UTC(2026, 10, 26, 12) + seq,
    day: '2026-11-26',
    key,
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 1200,
    outputTokens: 300,
    cachedTokens: 0,
    costUsd: 0.00036,
    latencyMs: 420,
    stream: false,
    userAgent: 'bench',
    ip: '127.0.0.1',
    configRevision: 'bench',
    usageSource: 'provider',
    requestFp: 'f'.repeat(64),
    prefixFp: 'e'.repeat(64),
    prefixTokens: 1024,
    outputLimit: 1000,
  };
  const { requestId, costUsd, ...rest } = completeUsage(u);
  if (values.many) return { id: requestId, ...rest, cost: String(costUsd), periods: PERIODS };
  return {
    id: requestId,
    ...rest,
    cost: String(costUsd),
    release: '0.00036',
    lease: `lease:${key}`,
    periods: PERIODS,
  };
}

/** The records' insert alone, as the leased settle inserts them (its rollup trigger off, as there). */
const RECORD_ONLY = `WITH s AS (SELECT set_config('tollgate.rollup_by_statement', 'on', true))
  INSERT INTO usage (${STORED_USAGE_COLUMN_NAMES.join(', ')})
  SELECT ${STORED_USAGE_COLUMN_NAMES.map((c) => `x.${c}`).join(', ')}
  FROM s, jsonb_populate_recordset(NULL::usage, $1::jsonb) AS x
  ON CONFLICT (request_id) DO NOTHING`;

/** A settle item as the usage table's row (column names), for --record-only. */
const asRow = (it: Record<string, unknown>) =>
  Object.fromEntries(
    STORED_USAGE_COLUMN_NAMES.map((c) => [
      c,
      c === 'request_id' ? it.id : c === 'cost_usd' ? it.cost : it[STORED_USAGE_FIELDS[c] as string],
    ]),
  );

const db = await createTestDatabase('tollgate_bench_settle');
try {
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  await applyPostgresMigrations(
    pool,
    POSTGRES_MIGRATIONS.filter((m) => m.version <= upto),
  );
  await pool.end();
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  if (values.history) {
    await c.query(`INSERT INTO spend (key, period, spent_usd)
      SELECT 'other-' || k, 'd:' || to_char(date '2025-11-26' + d, 'YYYY-MM-DD'), 1
      FROM generate_series(1, 60) k, generate_series(0, 335) d`);
    await c.query(`INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
      SELECT to_char(date '2025-11-26' + d, 'YYYY-MM-DD'), 'other-' || k, 'gpt-4o-mini', 200, 1, 1, 1, 1
      FROM generate_series(1, 60) k, generate_series(0, 335) d`);
    await c.query('ANALYZE spend, usage_daily');
  }
  const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
  const run = async (size: number) => {
    const t0 = Date.now();
    const cpu0 = cpuOf([pid]);
    let records = 0;
    let batches = 0;
    while (Date.now() - t0 < seconds * 1000) {
      const items = Array.from({ length: size }, (_, i) => item(`key-${(records + i) % 10}`));
      await c.query({
        name: 'settle',
        text: values['record-only']
          ? RECORD_ONLY
          : `SELECT * FROM tollgate_settle_${values.many ? 'many' : 'leased'}($1::jsonb)`,
        values: [JSON.stringify(values['record-only'] ? items.map(asRow) : items)],
      });
      records += size;
      batches++;
    }
    const used = cpuOf([pid]) - cpu0;
    return { perRecord: used / records, perBatch: used / batches, wallMs: (Date.now() - t0) / batches };
  };
  await run(8);
  for (const size of [1, 8, 24, 64]) {
    const r = await run(size);
    console.log(
      `batch of ${String(size).padStart(2)}: ${Math.round(r.perBatch)} µs per batch, ${Math.round(r.perRecord)} µs per record, ` +
        `${r.wallMs.toFixed(2)} ms round trip (commit included)`,
    );
  }
  await c.end();
} finally {
  await db.drop();
}
