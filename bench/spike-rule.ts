/**
 * What one measurement of the spike rule costs a store, for the expensive case: a key that has
 * been busy for a day (BENCH_PER_HOUR records an hour, default 50,000, about 14 requests a second,
 * for 25 hours), so every check needs the baseline. In a SQLite file by default (its queries run
 * on the event loop), or PostgreSQL with BENCH_PG_URL (an empty scratch database).
 *
 *   npx tsx bench/spike-rule.ts
 *   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/scratch npx tsx bench/spike-rule.ts
 *
 * Compares the meter (last hour, plus 24 whole clock hours each read once and kept) with reading
 * the 24 hours before the last hour in one query on every check, as the rule did before; and
 * prints what the in-memory spend rate (the fast path's trigger) adds to every charged settle.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSpendRate } from '../src/slack/spend-rate.js';
import { createSpikeMeter } from '../src/slack/spike-rule.js';
import { createPostgresStore } from '../src/store/postgres.js';
import { createSqliteStore } from '../src/store/sqlite.js';
import type { Store, UsageRecord } from '../src/store/types.js';

const PER_HOUR = Number(process.env.BENCH_PER_HOUR ?? 50_000);
const HOURS = 25;
const RUNS = 30;
const HOUR = 3_600_000;
const KEY = 'busy-agent';
const RULE = { factor: 5, minUsd: 1, action: 'alert' as const };

function record(i: number, ts: number): UsageRecord {
  return {
    requestId: `bench-${i}`,
    ts,
    day: new Date(ts).toISOString().slice(0, 10),
    key: KEY,
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 1000,
    outputTokens: 300,
    cachedTokens: 0,
    costUsd: 0.0003,
    latencyMs: 400,
    stream: false,
    userAgent: 'bench/1.0',
    ip: '10.0.0.1',
    configRevision: 'bench',
    usageSource: 'provider',
  };
}

async function timed(fn: () => Promise<unknown>, runs = RUNS): Promise<string> {
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  const pct = (p: number) =>
    samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(1);
  return runs === 1 ? `${pct(0)} ms` : `p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms`;
}

/** The fast path's cost on the hot path: one add and one last-hour sum per charged settle. */
function timeSpendRate(): void {
  const rate = createSpendRate();
  const settles = 1_000_000;
  const start = performance.now();
  let sum = 0;
  for (let i = 0; i < settles; i++) {
    const now = 1_700_000_000_000 + i * 5;
    rate.add(`key-${i % 100}`, 0.0003, now);
    sum += rate.lastHourUsd(`key-${i % 100}`, now);
  }
  const ns = ((performance.now() - start) * 1e6) / settles;
  console.log(
    `spend rate in memory: ${ns.toFixed(0)} ns per charged settle (100 keys; checksum ${sum.toFixed(0)})`,
  );
}

async function main(): Promise<void> {
  timeSpendRate();
  const pgUrl = process.env.BENCH_PG_URL;
  const dir = pgUrl ? null : mkdtempSync(join(tmpdir(), 'tollgate-spike-bench-'));
  const store: Store = pgUrl ? createPostgresStore(pgUrl) : createSqliteStore(join(dir!, 'bench.db'));
  await store.init();
  const now = Date.now();
  const total = PER_HOUR * HOURS;
  const fillStart = performance.now();
  const batch: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    batch.push(store.settle(record(i, now - HOURS * HOUR + Math.floor((i * HOURS * HOUR) / total)), []));
    if (batch.length >= (pgUrl ? 32 : 2_000)) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  console.log(
    `${store.kind}: ${total.toLocaleString('en')} records of one key over ${HOURS} h (${PER_HOUR.toLocaleString('en')}/h), filled in ${((performance.now() - fillStart) / 1000).toFixed(0)} s`,
  );

  const meter = createSpikeMeter(store);
  console.log(
    `  meter, first check (reads the 24 hours): ${await timed(() => meter.measure(KEY, now, RULE), 1)}`,
  );
  console.log(
    `  meter, every later check:                ${await timed(() => meter.measure(KEY, now, RULE))}`,
  );
  console.log(
    `  one 24 h query on every check (before):  ${await timed(() =>
      Promise.all([
        store.spendBetween(KEY, now - HOUR, now + 1),
        store.spendBetween(KEY, now - 25 * HOUR, now - HOUR),
      ]),
    )}`,
  );
  await store.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

await main();
