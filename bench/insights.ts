/**
 * How long `tollgate insights --since 30d` takes on a large store: 1,000,000 usage records over
 * 1,000 keys and 30 days, on SQLite and on PostgreSQL, then computeInsights (what the command,
 * the admin API and the dashboard call) timed over the whole period.
 *
 *   npm run bench:insights                      # BENCH_RECORDS=1000000 BENCH_KEYS=1000
 *   BENCH_RECORDS=50000 npm run bench:insights  # a quick smoke run
 *   BENCH_STORES=sqlite npm run bench:insights  # one store only (sqlite, postgres)
 *   BENCH_KEEP=1 npm run bench:insights         # keep the SQLite file and the PostgreSQL database
 *
 * The records mix the patterns insights look for: most requests unique, a few loops of one
 * request, retries after a 500, long prompt prefixes (half of them cached), two clients on some
 * keys, night-time traffic, long inputs. Filling writes the usage rows with the store's own column
 * mapping (src/store/usage-columns.ts) in large transactions, not one settle per record: the fill
 * is not what is measured. PostgreSQL is the machine's (TOLLGATE_TEST_PG_URL or 127.0.0.1:5432),
 * in a database made and dropped here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import { loadConfig } from '../src/config/load/load.js';
import type { Config } from '../src/config/types.js';
import { computeInsights } from '../src/insights/compute.js';
import { createPostgresStore } from '../src/store/postgres.js';
import { createSqliteStore } from '../src/store/sqlite.js';
import type { Store, UsageRecord } from '../src/store/types.js';
import { USAGE_COLUMN_NAMES, usageColumnValues } from '../src/store/usage-columns.js';

/** The columns every record here fills (the media columns stay at their defaults). */
const COLUMNS = USAGE_COLUMN_NAMES.join(', ');

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000);
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
const PG_ADMIN = process.env.TOLLGATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DAY_MS = 86_400_000;
const END = Date.UTC(2026, 10, 27, 0, 0, 0);
const START = END - 30 * DAY_MS;
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-5'];

const keyName = (i: number) => `tool-${String(i).padStart(4, '0')}`;
const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0').repeat(4);

/** Record i: deterministic, so both stores hold the same data. */
function record(i: number): UsageRecord {
  const k = i % KEYS;
  const slot = Math.floor(i / KEYS);
  const loop = k % 50 === 0 && slot % 40 < 12; // some keys repeat one request in bursts
  const retry = k % 20 === 1 && slot % 10 < 2;
  // In time order, as the gateway writes them (the rowid follows the clock).
  const ts = START + Math.floor(i * ((END - START) / RECORDS));
  const input = k % 10 === 2 ? 40_000 + (i % 5_000) : 300 + (i % 3_000);
  const output = 50 + (i % 700);
  const prefixed = k % 4 === 0;
  return {
    requestId: `bench-${i}`,
    ts: loop ? START + Math.floor(slot / 40) * 3_600_000 + (slot % 40) * 20_000 : ts,
    day: new Date(ts).toISOString().slice(0, 10),
    key: keyName(k),
    model: MODELS[(k + slot) % MODELS.length] ?? null,
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: retry && slot % 2 === 0 ? 500 : 200,
    errorCode: retry && slot % 2 === 0 ? 'upstream_500' : null,
    inputTokens: input,
    outputTokens: output,
    cachedTokens: prefixed && k % 8 === 0 ? Math.floor(input / 2) : 0,
    cacheWriteTokens: 0,
    costUsd: (input * 2.5 + output * 10) / 1e6,
    latencyMs: 300,
    stream: false,
    userAgent: k % 7 === 0 && slot % 3 === 0 ? 'curl/8.5.0' : 'OpenAI/JS 6.1.0',
    ip: '10.0.0.1',
    configRevision: 'bench',
    usageSource: 'provider',
    requestedModel: null,
    keyHash: null,
    requestFp: loop
      ? hex(k * 1_000 + Math.floor(slot / 40))
      : retry
        ? hex(k * 7 + Math.floor(slot / 2))
        : hex(i * 2_654_435_761),
    prefixFp: prefixed ? hex(k * 31 + (slot % 3)) : null,
    prefixTokens: prefixed ? 2_000 : 0,
    outputLimit: 4_096,
  };
}

function benchConfig(): Config {
  const keys = Array.from(
    { length: KEYS },
    (_, k) =>
      `  ${keyName(k)}: { hash: "sha256:${String(k).padStart(64, '0')}"${k % 3 === 0 ? '' : ', limits: { daily_usd: 50 }'} }`,
  );
  const yaml = `version: 1
server: { timezone: Europe/Berlin }
upstreams:
  openai: { base_url: "https://api.openai.com/v1", api_key: "\${OPENAI_API_KEY}" }
models:
  gpt-4o-mini: { upstream: openai, input_per_mtok: 0.15, output_per_mtok: 0.6, cached_input_per_mtok: 0.075 }
  gpt-4o: { upstream: openai, input_per_mtok: 2.5, output_per_mtok: 10, cached_input_per_mtok: 1.25 }
  claude-sonnet-4-5: { upstream: openai, input_per_mtok: 3, output_per_mtok: 15, cached_input_per_mtok: 0.3 }
keys:
${keys.join('\n')}
`;
  const loaded = loadConfig(yaml, { file: 'bench.yaml', now: END });
  if (!loaded.config) throw new Error(`bench config: ${loaded.errors.map((e) => e.message).join('; ')}`);
  return loaded.config;
}

const BATCH = 1_000;

function fillSqlite(path: string): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    `INSERT INTO usage (${COLUMNS}) VALUES (${USAGE_COLUMN_NAMES.map(() => '?').join(', ')})`,
  );
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++)
      insert.run(...usageColumnValues(record(i), (c, v) => (c === 'stream' ? (v ? 1 : 0) : v)));
  });
  for (let i = 0; i < RECORDS; i += 50_000) batch(i, Math.min(RECORDS, i + 50_000));
  db.close();
}

async function fillPostgres(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const n = USAGE_COLUMN_NAMES.length;
    for (let from = 0; from < RECORDS; from += BATCH) {
      const to = Math.min(RECORDS, from + BATCH);
      const values: unknown[] = [];
      const rows: string[] = [];
      for (let i = from; i < to; i++) {
        const base = values.length;
        values.push(...usageColumnValues(record(i), (col, v) => (col === 'cost_usd' ? String(v) : v)));
        rows.push(`(${Array.from({ length: n }, (_, j) => `$${base + j + 1}`).join(', ')})`);
      }
      await c.query(`INSERT INTO usage (${COLUMNS}) VALUES ${rows.join(', ')}`, values);
    }
    // As autovacuum leaves an insert-only table in service (PostgreSQL 13+): with the visibility
    // map set, the fingerprint index answers the repeats read on its own (index-only scan).
    await c.query('VACUUM ANALYZE usage');
    // The fill rewrote each rollup row once per record; in service autovacuum keeps up with it.
    await c.query('VACUUM ANALYZE usage_insight_days');
  } finally {
    await c.end();
  }
}

async function time(name: string, store: Store, config: Config): Promise<void> {
  const times: number[] = [];
  const cpu: number[] = [];
  let found = 0;
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const findings = await computeInsights({ store, config, since: END - 30 * DAY_MS, until: END });
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    found = findings.length;
  }
  const [first, ...warm] = times;
  // This process's CPU: all of SQLite's work (it runs in process), none of PostgreSQL's. On a
  // loaded machine it is steadier than the elapsed time.
  console.log(
    `${name}: insights --since 30d over ${RECORDS.toLocaleString('en-US')} records, ${KEYS} keys: first ${first?.toFixed(0)} ms, then ${warm.map((t) => t.toFixed(0)).join(' ms, ')} ms (process CPU ${cpu.map((t) => t.toFixed(0)).join(', ')} ms); ${found} findings; load average ${loadavg()[0]?.toFixed(1)}`,
  );
}

async function main(): Promise<void> {
  const config = benchConfig();
  if (STORES.includes('sqlite')) {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-insights-'));
    try {
      const path = join(dir, 'tollgate.db');
      const init = createSqliteStore(path);
      await init.init();
      await init.close();
      const t0 = performance.now();
      fillSqlite(path);
      console.log(`sqlite: filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const store = createSqliteStore(path);
      await store.init();
      await time('sqlite', store, config);
      await store.close();
    } finally {
      if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    }
  }
  if (STORES.includes('postgres')) {
    const name = `tollgate_bench_insights_${process.pid}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(PG_ADMIN);
    url.pathname = `/${name}`;
    try {
      const store = createPostgresStore(url.toString(), { poolSize: 4 });
      await store.init();
      const t0 = performance.now();
      await fillPostgres(url.toString());
      console.log(`postgres: filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await time('postgres', store, config);
      await store.close();
    } finally {
      if (process.env.BENCH_KEEP) console.log(`kept database ${name}`);
      else await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }
}

await main();
