/**
 * The database's CPU for the leased settle (tollgate_settle_leased), the statement that writes
 * nearly every request's usage record on a busy PostgreSQL replica: batches of 1, 8, 24 and 64
 * records of 10 keys, sent back to back on one connection, the backend's CPU read from /proc.
 * Splits the cost into a part per batch and a part per record (docs/postgres.md, capacity model).
 * Informational, not a test:
 *
 *   npx tsx bench/settle-leased-db.ts [seconds per size]
 */
import pg from 'pg';
import { createPostgresStore } from '../src/store/postgres.js';
import type { UsageRecord } from '../src/store/types.js';
import { completeUsage } from '../src/store/usage-columns.js';
import { createTestDatabase } from '../test/helpers/pg.js';
import { cpuOf } from './lib/proc-stats.js';

const seconds = Number(process.argv[2] ?? 4);
const PERIODS = [
  'd:2026-11-26',
  'w:2026-11-23',
  'm:2026-11',
  '@bench/d:2026-11-26',
  '@bench/w:2026-11-23',
  '@bench/m:2026-11',
];

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
  return {
    id: requestId,
    ...rest,
    cost: String(costUsd),
    release: '0.00036',
    lease: `lease:${key}`,
    periods: PERIODS,
  };
}

const db = await createTestDatabase('tollgate_bench_settle');
try {
  const store = createPostgresStore(db.url, { poolSize: 1 });
  await store.init();
  await store.close();
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
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
        text: 'SELECT * FROM tollgate_settle_leased($1::jsonb)',
        values: [JSON.stringify(items)],
      });
      records += size;
      batches++;
    }
    return { perRecord: (cpuOf([pid]) - cpu0) / records, perBatch: (cpuOf([pid]) - cpu0) / batches };
  };
  await run(8);
  for (const size of [1, 8, 24, 64]) {
    const r = await run(size);
    console.log(
      `batch of ${String(size).padStart(2)}: ${Math.round(r.perBatch)} µs per batch, ${Math.round(r.perRecord)} µs per record`,
    );
  }
  await c.end();
} finally {
  await db.drop();
}
