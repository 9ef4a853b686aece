/**
 * What the insight rollup (usage_insight_days, SQLite migration 11) costs each record written: the
 * store's own usage writer (src/store/sqlite/usage-writes.ts) in transactions of 20 records, as
 * the group commit batches them, on the full schema and on the same schema without the rollup's
 * triggers, interleaved. CPU time of this process (SQLite works in process): steadier than elapsed
 * time on a loaded machine.
 *
 *   npm run bench:rollup               # BENCH_RECORDS=20000 BENCH_ROUNDS=5
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { applySqliteMigrations } from '../src/store/sqlite/migrate.js';
import { createUsageRecorder } from '../src/store/sqlite/usage-writes.js';
import type { UsageRecord } from '../src/store/types.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 20;
const WARM = 2_000;
const T0 = Date.UTC(2026, 10, 1);

const record = (i: number): UsageRecord => ({
  requestId: `r-${i}`,
  ts: T0 + i * 1_300,
  day: '2026-11-01',
  key: `key-${i % 50}`,
  model: ['gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-5'][i % 3] ?? null,
  upstream: 'openai',
  route: '/v1/chat/completions',
  status: 200,
  errorCode: null,
  inputTokens: 500 + (i % 900),
  outputTokens: 100,
  cachedTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0.001 * (i % 7),
  latencyMs: 5,
  stream: false,
  userAgent: 'OpenAI/JS 6.1.0',
  ip: `10.0.0.${i % 3}`,
  configRevision: 'bench',
  usageSource: 'provider',
  requestFp: (Math.imul(i, 2_654_435_761) >>> 0).toString(16).padStart(32, '0'),
  prefixFp: null,
  prefixTokens: 0,
  outputLimit: 4_096,
});

/** µs of CPU per record written, after a warm-up. */
function run(withRollup: boolean): number {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-rollup-'));
  const db = new Database(join(dir, 'tollgate.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    applySqliteMigrations(db);
    if (!withRollup) {
      for (const t of ['add', 'remove', 'change']) db.exec(`DROP TRIGGER usage_insight_days_${t}`);
    }
    const write = createUsageRecorder(db);
    const batch = db.transaction((from: number) => {
      for (let i = from; i < from + BATCH; i++) write(record(i));
    });
    for (let i = 0; i < WARM; i += BATCH) batch(i);
    const c0 = process.cpuUsage();
    for (let i = WARM; i < RECORDS; i += BATCH) batch(i);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / (RECORDS - WARM);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const without: number[] = [];
const withIt: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  without.push(run(false));
  withIt.push(run(true));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
console.log(
  `usage record written (SQLite, ${BATCH} per transaction, ${RECORDS - WARM} timed × ${ROUNDS} rounds): ` +
    `without the rollup ${median(without).toFixed(1)} µs of CPU, with it ${median(withIt).toFixed(1)} µs ` +
    `(+${(median(withIt) - median(without)).toFixed(1)} µs); rounds ${without.map((x) => x.toFixed(0)).join('/')} vs ${withIt.map((x) => x.toFixed(0)).join('/')}`,
);
