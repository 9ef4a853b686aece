/**
 * A fixed amount of SQLite store writing for a compiled build (a `dist/` folder), to be counted in
 * instructions by valgrind, which a loaded machine does not disturb as it does CPU time. Run it for
 * two counts and take the difference per unit, so start-up and compilation drop out:
 *
 *   valgrind --tool=callgrind --smc-check=all node --import tsx bench/sqlite-write-instructions.ts DIST pairs 1000
 *   (… 5000; then (Ir(5000) − Ir(1000)) / 4000 per reserve + settle)
 *
 * `pairs N`: N reserves and settles through the store (the in-thread writer, 50 in flight, 10 keys,
 * as bench/sqlite-writes.ts). `records N`: N usage records through the store's recorder
 * (src/store/sqlite/usage-writes.ts) in transactions of 20, the same 10 keys; `unmarked N`: the
 * same records inserted as another writer would (no batch_rollup mark), so that the insert trigger
 * rolls each up, and usage_daily upserted per record, as the recorder did before SQLite migration 13.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { Store, UsageRecord } from '../src/store/types.js';

const [distArg, mode = 'pairs', countArg = '1000'] = process.argv.slice(2);
if (!distArg || !['pairs', 'records', 'unmarked'].includes(mode)) {
  console.error('usage: sqlite-write-instructions.ts DIST pairs|records|unmarked N');
  process.exit(2);
}
const dist = resolve(distArg);
const count = Number(countArg);
const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(dist, path)).href)) as T;
const dir = mkdtempSync(join(tmpdir(), 'tollgate-write-instructions-'));
const DAY = new Date().toISOString().slice(0, 10);
const usage = (requestId: string, key: string): UsageRecord => ({
  requestId,
  ts: Date.now(),
  day: DAY,
  key,
  model: 'gpt-4o-mini',
  upstream: 'openai',
  route: '/v1/chat/completions',
  status: 200,
  errorCode: null,
  inputTokens: 120,
  outputTokens: 40,
  cachedTokens: 0,
  costUsd: 0.000042,
  latencyMs: 3,
  stream: false,
  userAgent: 'bench',
  ip: '127.0.0.1',
  configRevision: 'r1',
  usageSource: 'provider',
});

async function pairs(): Promise<void> {
  const { createSqliteStore } = await load<{
    createSqliteStore(path: string, o: { writer: { cpus: number } }): Store;
  }>('store/sqlite.js');
  const store = createSqliteStore(join(dir, 't.db'), { writer: { cpus: 1 } });
  await store.init();
  const periods = [`d:${DAY}`, `m:${DAY.slice(0, 7)}`];
  let next = 0;
  const one = async (i: number) => {
    const id = `p-${i}`;
    const key = `k${i % 10}`;
    const windows = [{ period: `d:${DAY}`, limitUsd: 1e9 }];
    const leaseUntil = Date.now() + 600_000;
    const r = await store.reserve({ id, key, amountUsd: 0.001, windows, periods, leaseUntil });
    if (!r.ok) throw new Error('refused');
    await new Promise((res) => setImmediate(res));
    await store.settle(usage(id, key), periods);
  };
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < count) await one(next++);
    }),
  );
  await store.close();
}

type Recorder = { record(u: UsageRecord): unknown; flush(): void };

async function records(): Promise<void> {
  const db = new Database(join(dir, 't.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const { applySqliteMigrations } = await load<{ applySqliteMigrations(db: Database.Database): void }>(
    'store/sqlite/migrate.js',
  );
  applySqliteMigrations(db);
  let recorder: Recorder;
  if (mode === 'records') {
    const m = await load<{
      createUsageRecorder(db: Database.Database): Recorder | Recorder['record'];
    }>('store/sqlite/usage-writes.js');
    const made = m.createUsageRecorder(db);
    // Before migration 13 the recorder was one function, its rollups written per record.
    recorder = typeof made === 'function' ? { record: made, flush() {} } : made;
  } else {
    const cols = await load<typeof import('../src/store/usage-columns.js')>('store/usage-columns.js');
    const insert = db.prepare(`INSERT INTO usage (${cols.USAGE_COLUMN_LIST})
      VALUES (${cols.STORED_USAGE_COLUMN_NAMES.map(() => '?').join(', ')}) ON CONFLICT (request_id) DO NOTHING`);
    const daily = db.prepare(`INSERT INTO usage_daily (day, key, model, status, requests, input_tokens,
        output_tokens, cost_usd) VALUES (?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT (day, key, model, status) DO UPDATE SET
      requests = requests + 1, input_tokens = input_tokens + excluded.input_tokens,
      output_tokens = output_tokens + excluded.output_tokens, cost_usd = cost_usd + excluded.cost_usd`);
    const value = (_c: string, v: unknown) => (typeof v === 'boolean' ? (v ? 1 : 0) : v);
    recorder = {
      record(u) {
        if (insert.run(cols.usageColumnValues(u, value, cols.STORED_USAGE_COLUMN_NAMES)).changes > 0)
          daily.run(u.day, u.key, u.model ?? '', u.status, u.inputTokens, u.outputTokens, u.costUsd);
      },
      flush() {},
    };
  }
  const batch = db.transaction((from: number) => {
    for (let i = from; i < from + 20; i++) recorder.record(usage(`r-${i}`, `k${i % 10}`));
    recorder.flush();
  });
  for (let i = 0; i < count; i += 20) batch(i);
  db.close();
}

try {
  await (mode === 'pairs' ? pairs() : records());
} finally {
  rmSync(dir, { recursive: true, force: true });
}
