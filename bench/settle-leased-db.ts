/**
 * The database's CPU for the leased settle (tollgate_settle_leased), the statement that writes
 * nearly every request's usage record on a busy PostgreSQL replica: batches of 1, 8, 24 and 64
 * records of 10 keys, sent back to back on one connection, the backend's CPU read from /proc, and
 * the round trip each batch took (what a response waits for: its usage record's commit).
 * Splits the cost into a part per batch and a part per record (docs/postgres.md, capacity model).
 * Informational, not a test:
 *
 *   npx tsx bench/settle-leased-db.ts [seconds per size] [--history] [--upto N] [--many] [--record-only]
 *        [--against N]
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
 * --against N: an A/B in one run, for a machine too busy for two runs to compare: a second
 * database stops at migration N, and the two take turns (a quarter second each, the order swapped
 * every other turn) on a connection each, CPU read from /proc/<pid>/schedstat.
 */
import { readFileSync } from 'node:fs';
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
import { createTestDatabase, type TestDatabase } from '../test/helpers/pg.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    history: { type: 'boolean', default: false },
    upto: { type: 'string' },
    many: { type: 'boolean', default: false },
    'record-only': { type: 'boolean', default: false },
    against: { type: 'string' },
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

/** CPU time of a process in µs, to the nanosecond (/proc/<pid>/schedstat: time on a CPU). */
const onCpu = (pid: number) => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;

interface Side {
  db: TestDatabase;
  c: pg.Client;
  pid: number;
}

async function open(uptoVersion: number): Promise<Side> {
  const db = await createTestDatabase('tollgate_bench_settle');
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  await applyPostgresMigrations(
    pool,
    POSTGRES_MIGRATIONS.filter((m) => m.version <= uptoVersion),
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
  return { db, c, pid };
}

interface Tally {
  cpu: number;
  records: number;
  batches: number;
  ms: number;
}

/** Batches of `size` for `ms` on one side, added to `t`. */
async function run(side: Side, size: number, ms: number, t: Tally): Promise<void> {
  const t0 = Date.now();
  const cpu0 = onCpu(side.pid);
  while (Date.now() - t0 < ms) {
    const items = Array.from({ length: size }, (_, i) => item(`key-${(t.records + i) % 10}`));
    await side.c.query({
      name: 'settle',
      text: values['record-only']
        ? RECORD_ONLY
        : `SELECT * FROM tollgate_settle_${values.many ? 'many' : 'leased'}($1::jsonb)`,
      values: [JSON.stringify(values['record-only'] ? items.map(asRow) : items)],
    });
    t.records += size;
    t.batches++;
  }
  t.cpu += onCpu(side.pid) - cpu0;
  t.ms += Date.now() - t0;
}

const line = (t: Tally) =>
  `${Math.round(t.cpu / t.batches)} µs per batch, ${Math.round(t.cpu / t.records)} µs per record, ` +
  `${(t.ms / t.batches).toFixed(2)} ms round trip (commit included)`;
const tally = (): Tally => ({ cpu: 0, records: 0, batches: 0, ms: 0 });

const sides: Side[] = [];
try {
  sides.push(await open(upto));
  if (values.against !== undefined) sides.push(await open(Number(values.against)));
  const [a, b] = sides as [Side, Side | undefined];
  await run(a, 8, seconds * 1000, tally());
  if (b) await run(b, 8, seconds * 1000, tally());
  for (const size of [1, 8, 24, 64]) {
    const label = `batch of ${String(size).padStart(2)}`;
    if (!b) {
      const t = tally();
      await run(a, size, seconds * 1000, t);
      console.log(`${label}: ${line(t)}`);
      continue;
    }
    const [ta, tb] = [tally(), tally()];
    for (let turn = 0; turn < seconds * 4; turn++) {
      const pair: [Side, Tally][] =
        turn % 2
          ? [
              [b, tb],
              [a, ta],
            ]
          : [
              [a, ta],
              [b, tb],
            ];
      for (const [side, t] of pair) await run(side, size, 250, t);
    }
    console.log(`${label}: ${line(ta)}`);
    console.log(`${' '.repeat(label.length - 2)}against migration ${values.against}: ${line(tb)}`);
  }
} finally {
  for (const s of sides) {
    await s.c.end();
    await s.db.drop();
  }
}
