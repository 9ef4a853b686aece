/**
 * How long `tollgate insights --since 30d` takes on a large store: 1,000,000 usage records over
 * 1,000 keys and 30 days, on SQLite and on PostgreSQL, then computeInsights (what the command,
 * the admin API and the dashboard call) timed over the whole period.
 *
 *   npm run bench:insights                      # BENCH_RECORDS=1000000 BENCH_KEYS=1000
 *   BENCH_RECORDS=50000 npm run bench:insights  # a quick smoke run
 *   BENCH_STORES=sqlite npm run bench:insights  # one store only (sqlite, postgres)
 *   BENCH_KEEP=1 npm run bench:insights         # keep the SQLite file and the PostgreSQL database
 *   BENCH_REUSE=1 npm run bench:insights        # fill once, then time the read path again and again
 *   BENCH_RUNS=10 npm run bench:insights        # more timed runs than 3 (on a loaded machine)
 *
 * BENCH_REUSE keeps the filled store under a name of its size (tollgate-bench-insights-R-K.db in
 * the temporary directory, database tollgate_bench_insights_R_K) and, on the next run with the
 * same BENCH_RECORDS and BENCH_KEYS, opens it (migrating it as the store's init does) instead of
 * filling another: filling 1,000,000 records takes minutes, a read a few seconds. Remove them by
 * hand (rm, dropdb) when done.
 *
 * The records mix the patterns insights look for: most requests unique, a few loops of one
 * request, retries after a 500, long prompt prefixes (half of them cached), two clients on some
 * keys, night-time traffic, long inputs. Filling writes the usage rows with the store's own column
 * mapping (src/store/usage-columns.ts) in large transactions, not one settle per record: the fill
 * is not what is measured; the PostgreSQL rollup is then compacted as service keeps it (see
 * fillPostgres). PostgreSQL is the machine's (TOLLGATE_TEST_PG_URL or 127.0.0.1:5432), in a
 * database made and dropped here (kept with BENCH_KEEP or BENCH_REUSE).
 *
 * Each run prints its elapsed time and this process's CPU (all of SQLite's work) and, when the
 * PostgreSQL server runs on this machine, the CPU of the database's backends read from /proc: on
 * a loaded machine the CPU figures are steadier than the elapsed ones.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
import { cpuOf } from './lib/proc-stats.js';

/** The columns every record here fills (the media columns stay at their defaults). */
const COLUMNS = USAGE_COLUMN_NAMES.join(', ');

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000);
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
const REUSE = Boolean(process.env.BENCH_REUSE);
/** Timed runs per store: the first reads from a cold cache, the others warm. */
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
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
    // The fill rewrote each rollup row once per record (about 11 times, in back-to-back
    // transactions, faster than autovacuum runs), leaving the table ten times its live size
    // (586 MB for 89,000 rows of ~610 bytes). In service the same updates come over 30 days with
    // autovacuum between them, and the freed room is reused: the table stays near its live size.
    // VACUUM FULL writes the same rows compactly, as service would hold them.
    await c.query('VACUUM FULL ANALYZE usage_insight_days');
  } finally {
    await c.end();
  }
}

/**
 * CPU so far of each backend serving database `name`, by pid, from /proc: only when PostgreSQL
 * runs on this machine (the pid is a postgres process here), otherwise null.
 */
async function backendCpu(admin: pg.Client, name: string): Promise<Map<number, number> | null> {
  const { rows } = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
    [name],
  );
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('postgres')) return null;
      out.set(pid, cpuOf([pid]));
    } catch {
      return null;
    }
  }
  return out;
}

/** How a run is measured beyond this process: the database's backends' CPU, when readable. */
interface DbProbe {
  admin: pg.Client;
  name: string;
}

async function time(name: string, store: Store, config: Config, db?: DbProbe): Promise<void> {
  const times: number[] = [];
  const cpu: number[] = [];
  const dbCpu: Array<number | null> = [];
  let found = 0;
  for (let run = 0; run < RUNS; run++) {
    const before = db ? await backendCpu(db.admin, db.name) : null;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const findings = await computeInsights({ store, config, since: END - 30 * DAY_MS, until: END });
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    const after = db ? await backendCpu(db.admin, db.name) : null;
    // A backend opened during the run counts from its start (the admin connection is in no run).
    dbCpu.push(
      before && after
        ? [...after].reduce((sum, [pid, us]) => sum + us - (before.get(pid) ?? 0), 0) / 1000
        : null,
    );
    found = findings.length;
  }
  const [first, ...warm] = times;
  // This process's CPU: all of SQLite's work (it runs in process), none of PostgreSQL's; that is
  // the database backends' CPU (insight reads plan no parallel workers, so it is all of it). On a
  // loaded machine they are steadier than the elapsed time.
  const dbText =
    dbCpu.every((t) => t !== null) && db
      ? `, database CPU ${dbCpu.map((t) => t.toFixed(0)).join(', ')} ms`
      : '';
  console.log(
    `${name}: insights --since 30d over ${RECORDS.toLocaleString('en-US')} records, ${KEYS} keys: first ${first?.toFixed(0)} ms, then ${warm.map((t) => t.toFixed(0)).join(' ms, ')} ms (process CPU ${cpu.map((t) => t.toFixed(0)).join(', ')} ms${dbText}); ${found} findings; load average ${loadavg()[0]?.toFixed(1)}`,
  );
}

async function main(): Promise<void> {
  const config = benchConfig();
  if (STORES.includes('sqlite')) {
    const dir = REUSE ? tmpdir() : mkdtempSync(join(tmpdir(), 'tollgate-bench-insights-'));
    const path = join(dir, REUSE ? `tollgate-bench-insights-${RECORDS}-${KEYS}.db` : 'tollgate.db');
    try {
      const filled = REUSE && existsSync(path) && sqliteCount(path) === RECORDS;
      if (!filled) {
        if (REUSE) for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
        const init = createSqliteStore(path);
        await init.init();
        await init.close();
        const t0 = performance.now();
        fillSqlite(path);
        console.log(`sqlite: filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      } else console.log(`sqlite: reusing ${path}`);
      const store = createSqliteStore(path);
      await store.init();
      await time('sqlite', store, config);
      await store.close();
    } finally {
      if (REUSE) console.log(`kept ${path}`);
      else if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    }
  }
  if (STORES.includes('postgres')) {
    const name = REUSE
      ? `tollgate_bench_insights_${RECORDS}_${KEYS}`
      : `tollgate_bench_insights_${process.pid}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN });
    await admin.connect();
    const url = new URL(PG_ADMIN);
    url.pathname = `/${name}`;
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
    const filled = REUSE && exists && (await postgresCount(url.toString())) === RECORDS;
    if (REUSE && exists && !filled) await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    if (!filled) await admin.query(`CREATE DATABASE ${name}`);
    try {
      const store = createPostgresStore(url.toString(), { poolSize: 4 });
      await store.init();
      if (!filled) {
        const t0 = performance.now();
        await fillPostgres(url.toString());
        console.log(`postgres: filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      } else console.log(`postgres: reusing database ${name}`);
      await time('postgres', store, config, { admin, name });
      await store.close();
    } finally {
      if (REUSE || process.env.BENCH_KEEP) console.log(`kept database ${name}`);
      else await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }
}

/** The records of a kept SQLite file (0 for one without the table). */
function sqliteCount(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM usage').get() as { n: number }).n;
  } catch {
    return 0;
  } finally {
    db.close();
  }
}

/** The records of a kept PostgreSQL database (0 for one without the table). */
async function postgresCount(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query('SELECT count(*) AS n FROM usage')).rows[0].n);
  } catch {
    return 0;
  } finally {
    await c.end();
  }
}

await main();
