/**
 * Reserve + settle pairs per second (what every proxied request costs the store) on PostgreSQL
 * and on SQLite, same machine, same run, and their ratio. Also the acquireSlot rate (rpm +
 * max_parallel), which on PostgreSQL is a shared write per request. Each is measured twice: for a
 * key alone (its day, week and month) and for a key in a group of 20 keys with a group daily limit
 * and tpm (the key's rows plus the group's, one shared by every worker).
 * Informational, not a test: `npx tsx bench/store-postgres.ts [pairs] [concurrency]`.
 * Needs the local server (postgres://postgres@127.0.0.1:5432, or TOLLGATE_TEST_PG_URL);
 * creates and drops its own database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createPostgresStore } from '../src/store/postgres.js';
import { createSqliteStore } from '../src/store/sqlite.js';
import type { Store, UsageRecord } from '../src/store/types.js';
import { createTestDatabase } from '../test/helpers/pg.js';

const pairs = Number(process.argv[2] ?? 5_000);
const concurrency = Number(process.argv[3] ?? 20);

type Shape = 'key' | 'group';
const PERIODS: Record<Shape, string[]> = {
  key: ['d:2026-11-26', 'w:2026-11-23', 'm:2026-11'],
  group: [
    'd:2026-11-26',
    'w:2026-11-23',
    'm:2026-11',
    '@bench/d:2026-11-26',
    '@bench/w:2026-11-23',
    '@bench/m:2026-11',
  ],
};
const WINDOWS: Record<Shape, { period: string; limitUsd: number }[]> = {
  key: [
    { period: 'd:2026-11-26', limitUsd: 1e9 },
    { period: 'm:2026-11', limitUsd: 1e9 },
  ],
  group: [
    { period: 'd:2026-11-26', limitUsd: 1e9 },
    { period: 'm:2026-11', limitUsd: 1e9 },
    { period: '@bench/d:2026-11-26', limitUsd: 1e9 },
  ],
};
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
  stream: true,
  userAgent: 'bench',
  ip: '127.0.0.1',
  configRevision: 'bench',
  usageSource: 'provider',
});

/** Runs `op(i)` n times with `c` workers; returns operations per second. */
async function rate(n: number, c: number, op: (i: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) await op(next++);
  };
  await Promise.all(Array.from({ length: c }, worker));
  return n / ((performance.now() - start) / 1000);
}

async function pairsPerSec(store: Store, label: string, c: number, shape: Shape): Promise<number> {
  const periods = PERIODS[shape];
  const windows = WINDOWS[shape];
  return rate(pairs, c, async (i) => {
    const id = `${label}-${i}`;
    const key = `key-${i % 20}`;
    const r = await store.reserve({
      id,
      key,
      amountUsd: 0.01,
      windows,
      periods,
      leaseUntil: Date.now() + 600_000,
    });
    if (!r.ok) throw new Error('bench reservation refused');
    await store.settle(usage(id, key), periods);
  });
}

async function slotsPerSec(store: Store, label: string, c: number, shape: Shape): Promise<number> {
  return rate(pairs, c, async (i) => {
    const id = `${label}-${i}`;
    const key = `key-${i % 20}`;
    const now = Date.now();
    const group = shape === 'group' ? { group: { subject: '@bench', tpm: 2e9 }, tokens: 1500 } : {};
    await store.acquireSlot({
      id,
      key,
      rpm: 1e9,
      maxParallel: 1e6,
      now,
      leaseUntil: now + 600_000,
      ...group,
    });
    await store.releaseSlot(id, key, shape === 'group' ? { group: '@bench', tokens: 1400 } : undefined);
  });
}

async function measure(store: Store, name: string, shape: Shape): Promise<Record<string, number>> {
  await pairsPerSec(store, `${name}-${shape}-warmup`, 1, shape);
  const out = {
    sequential: await pairsPerSec(store, `${name}-${shape}-seq`, 1, shape),
    concurrent: await pairsPerSec(store, `${name}-${shape}-conc`, concurrency, shape),
    slots: await slotsPerSec(store, `${name}-${shape}-slot`, concurrency, shape),
  };
  console.log(
    `${`${name} ${shape}`.padEnd(15)} reserve+settle: ${Math.round(out.sequential)} pairs/s sequential, ` +
      `${Math.round(out.concurrent)} pairs/s at concurrency ${concurrency}; ` +
      `acquire+release slot: ${Math.round(out.slots)}/s`,
  );
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
const db = await createTestDatabase('tollgate_bench');
const sqlite = createSqliteStore(join(dir, 'bench.db'));
const postgres = createPostgresStore(db.url, { poolSize: 10 });
try {
  await sqlite.init();
  await postgres.init();
  console.log(`${pairs} operations per measurement`);
  const s = await measure(sqlite, 'sqlite', 'key');
  await measure(sqlite, 'sqlite', 'group');
  const p = await measure(postgres, 'postgres', 'key');
  await measure(postgres, 'postgres', 'group');
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  console.log(
    `postgres/sqlite ratio: sequential ${ratio(p.sequential ?? 0, s.sequential ?? 1)}, ` +
      `concurrent ${ratio(p.concurrent ?? 0, s.concurrent ?? 1)}, slots ${ratio(p.slots ?? 0, s.slots ?? 1)}`,
  );
} finally {
  await sqlite.close();
  await postgres.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
}
