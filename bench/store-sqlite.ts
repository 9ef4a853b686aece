/**
 * Reserve + settle pairs per second on the SQLite store (what every proxied request costs the
 * store), on a real file with WAL. Informational: `npx tsx bench/store-sqlite.ts [pairs]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSqliteStore } from '../src/store/sqlite.js';
import type { UsageRecord } from '../src/store/types.js';

const pairs = Number(process.argv[2] ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
const store = createSqliteStore(join(dir, 'bench.db'));
await store.init();

const periods = ['d:2026-11-26', 'm:2026-11'];
const windows = [
  { period: 'd:2026-11-26', limitUsd: 1e9 },
  { period: 'm:2026-11', limitUsd: 1e9 },
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
  stream: true,
  userAgent: 'bench',
  ip: '127.0.0.1',
  configRevision: 'bench',
  usageSource: 'provider',
});

async function run(label: string, n: number, concurrency: number): Promise<void> {
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
        amountUsd: 0.01,
        windows,
        periods,
        leaseUntil: Date.now() + 600_000,
      });
      if (!r.ok) throw new Error('bench reservation refused');
      await store.settle(usage(id, key), periods);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - start) / 1000;
  console.log(
    `${label}: ${n} reserve+settle pairs in ${secs.toFixed(2)} s = ${Math.round(n / secs)} pairs/s`,
  );
}

try {
  await run('warmup', Math.min(2_000, pairs), 1);
  await run('sequential', pairs, 1);
  await run('concurrency-50', pairs, 50);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
