/**
 * The database's own CPU per request on PostgreSQL, with budget leases and without
 * (`lease_horizon_ms=0`): reserve + settle pairs of 20 busy keys in a group, at a concurrency,
 * through the store as the gateway calls it. The CPU is read from /proc for the backends of this
 * bench's own database only (pg_stat_activity), so other work on the server does not count; the
 * WAL writer and checkpointer are not included. Feeds the capacity model in docs/postgres.md:
 * fleet req/s ≈ database cores × 10⁶ / database µs per request.
 * Informational, not a test: `npx tsx bench/lease-db-cpu.ts [pairs] [concurrency]`.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createPostgresStore } from '../src/store/postgres.js';
import type { Store, UsageRecord } from '../src/store/types.js';
import { createTestDatabase } from '../test/helpers/pg.js';
import { cpuOf } from './lib/proc-stats.js';

const pairs = Number(process.argv[2] ?? 4_000);
const concurrency = Number(process.argv[3] ?? 20);
const DAY = 'd:2026-11-26';
const PERIODS = [
  DAY,
  'w:2026-11-23',
  'm:2026-11',
  `@bench/${DAY}`,
  '@bench/w:2026-11-23',
  '@bench/m:2026-11',
];
const WINDOWS = [
  { period: DAY, limitUsd: 1e6 },
  { period: 'm:2026-11', limitUsd: 1e6 },
  { period: `@bench/${DAY}`, limitUsd: 1e6 },
];

const usage = (requestId: string, key: string): UsageRecord => ({
  requestId,
  ts: Date.now(),
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
});

async function run(store: Store, label: string, n: number): Promise<number> {
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const id = `${label}-${i}`;
      const key = `key-${i % 20}`;
      const r = await store.reserve({
        id,
        key,
        amountUsd: 0.002,
        windows: WINDOWS,
        periods: PERIODS,
        leaseUntil: Date.now() + 600_000,
      });
      if (!r.ok) throw new Error('bench reservation refused');
      await store.settle(usage(id, key), PERIODS);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return n / ((performance.now() - start) / 1000);
}

async function backendPids(url: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    return rows.map((r) => r.pid);
  } finally {
    await c.end();
  }
}

async function measure(url: string, label: string, leaseHorizonMs: number) {
  const store = createPostgresStore(url, { poolSize: 10, leaseHorizonMs });
  try {
    await store.init();
    await run(store, `${label}-warmup`, Math.min(1_000, pairs));
    const pids = await backendPids(url);
    const cpu0 = cpuOf(pids);
    const rate = await run(store, label, pairs);
    const dbUs = (cpuOf(pids) - cpu0) / pairs;
    console.log(
      `${label.padEnd(16)} ${Math.round(rate)} reserve+settle pairs/s at concurrency ${concurrency}; ` +
        `database CPU ${Math.round(dbUs)} µs per pair (${pids.length} backends)`,
    );
    return dbUs;
  } finally {
    await store.close();
  }
}

const db = await createTestDatabase('tollgate_bench');
try {
  console.log(`${pairs} pairs per measurement, 20 keys of one group`);
  const off = await measure(db.url, 'without leases', 0);
  const on = await measure(db.url, 'with leases', 2_000);
  console.log(`database CPU per request: ${Math.round(on)} µs with leases vs ${Math.round(off)} µs without`);
  for (const cores of [1, 2, 4])
    console.log(
      `capacity model, ${cores} database core(s): ~${Math.round((cores * 1e6) / on)} req/s with leases, ` +
        `~${Math.round((cores * 1e6) / off)} without`,
    );
} finally {
  await db.drop();
}
