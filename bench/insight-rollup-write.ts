/**
 * What the insight rollup (usage_insight_days, SQLite migrations 11 and 13) costs each record
 * written, in transactions of 20 records as the group commit batches them: the store's own usage
 * recorder (src/store/sqlite/usage-writes.ts: rollups summed per row and upserted once per row and
 * transaction), against migration 11's way (each record inserted unmarked, so the trigger upserts
 * its rollup row, and usage_daily upserted per record, as the recorder did before migration 13),
 * and that same way with the insight triggers dropped (no insight rollup at all), interleaved.
 * CPU time of this process (SQLite works in process): steadier than elapsed time on a loaded
 * machine.
 *
 *   npm run bench:rollup               # BENCH_RECORDS=20000 BENCH_ROUNDS=5 BENCH_KEYS=10
 *
 * BENCH_KEYS: the records' keys, one model and client each (10, as `npm run bench`); 50 keys
 * with three models and clients makes each record of a batch a rollup row of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { applySqliteMigrations } from '../src/store/sqlite/migrate.js';
import { createUsageRecorder } from '../src/store/sqlite/usage-writes.js';
import type { UsageRecord } from '../src/store/types.js';
import {
  STORED_USAGE_COLUMN_NAMES,
  USAGE_COLUMN_LIST,
  usageColumnValues,
} from '../src/store/usage-columns.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 20;
const KEYS = Number(process.env.BENCH_KEYS ?? 10);
const SPREAD = KEYS > 10;
const WARM = 2_000;
const T0 = Date.UTC(2026, 10, 1);

const record = (i: number): UsageRecord => ({
  requestId: `r-${i}`,
  ts: T0 + i * 1_300,
  day: '2026-11-01',
  key: `key-${i % KEYS}`,
  model: SPREAD ? (['gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-5'][i % 3] ?? null) : 'gpt-4o-mini',
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
  ip: SPREAD ? `10.0.0.${i % 3}` : '10.0.0.1',
  configRevision: 'bench',
  usageSource: 'provider',
  requestFp: (Math.imul(i, 2_654_435_761) >>> 0).toString(16).padStart(32, '0'),
  prefixFp: null,
  prefixTokens: 0,
  outputLimit: 4_096,
});

type Way = 'batch' | 'trigger' | 'none';

/** Migration 11's way: the record unmarked (the trigger rolls it up), usage_daily per record. */
function perRecordWriter(db: Database.Database): { record(u: UsageRecord): void; flush(): void } {
  const insert = db.prepare(`INSERT INTO usage (${USAGE_COLUMN_LIST})
    VALUES (${STORED_USAGE_COLUMN_NAMES.map(() => '?').join(', ')}) ON CONFLICT (request_id) DO NOTHING`);
  const daily =
    db.prepare(`INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
    VALUES (?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT (day, key, model, status) DO UPDATE SET
      requests = requests + 1, input_tokens = input_tokens + excluded.input_tokens,
      output_tokens = output_tokens + excluded.output_tokens, cost_usd = cost_usd + excluded.cost_usd`);
  const value = (_c: string, v: unknown) => (typeof v === 'boolean' ? (v ? 1 : 0) : v);
  return {
    record(u) {
      if (insert.run(usageColumnValues(u, value, STORED_USAGE_COLUMN_NAMES)).changes > 0)
        daily.run(u.day, u.key, u.model ?? '', u.status, u.inputTokens, u.outputTokens, u.costUsd);
    },
    flush() {},
  };
}

/** µs of CPU per record written, after a warm-up. */
function run(way: Way): number {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-rollup-'));
  const db = new Database(join(dir, 'tollgate.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    applySqliteMigrations(db);
    if (way === 'none') {
      for (const t of ['add', 'remove', 'change']) db.exec(`DROP TRIGGER usage_insight_days_${t}`);
    }
    const writer = way === 'batch' ? createUsageRecorder(db) : perRecordWriter(db);
    const batch = db.transaction((from: number) => {
      for (let i = from; i < from + BATCH; i++) writer.record(record(i));
      writer.flush();
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

const ways: Way[] = ['none', 'trigger', 'batch'];
const results: Record<Way, number[]> = { none: [], trigger: [], batch: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const way of r % 2 ? [...ways].reverse() : ways) results[way].push(run(way));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const fmt = (way: Way) => median(results[way]).toFixed(1);
const rounds = (way: Way) => results[way].map((x) => x.toFixed(0)).join('/');
console.log(
  `usage record written (SQLite, ${BATCH} per transaction, ${KEYS} keys, ${RECORDS - WARM} timed × ${ROUNDS} rounds), µs of CPU: ` +
    `no insight rollup ${fmt('none')}, per record (migration 11's trigger) ${fmt('trigger')}, ` +
    `per batch (the store's recorder) ${fmt('batch')}; rounds ${rounds('none')} | ${rounds('trigger')} | ${rounds('batch')}`,
);
