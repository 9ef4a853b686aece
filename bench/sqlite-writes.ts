/**
 * `npm run bench:sqlite-writes`: the SQLite store's two writes per request (reserve, then settle)
 * alone, at a fixed number in flight, for this build and optionally another one (`--baseline
 * DIR`, a compiled dist/) in the same run, alternating: pairs per second, process CPU per pair
 * (every thread, the write worker's included), how long the event loop was held (its delay
 * p99/max, monitorEventLoopDelay) and the latency of a pair. Each store on a fresh file.
 *
 * Both run compiled: this build from dist/ (the npm script builds it first).
 *
 *   npm run bench:sqlite-writes -- [--pairs 20000] [--inflight 50] [--rounds 3] [--baseline DIR]
 *
 * `taskset -c 0` in front pins it to one CPU, as `npm run bench` pins the gateway: a build that
 * keeps the writes on the event loop's thread when it has one CPU (src/store/sqlite.ts) runs no
 * write worker there.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Store, UsageRecord } from '../src/store/types.js';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '20000' },
    inflight: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    baseline: { type: 'string' },
  },
});
const pairs = Number(values.pairs);
const inflight = Number(values.inflight);
const rounds = Number(values.rounds);
type Create = (path: string) => Store;
const builds: Array<{ name: string; create: Create }> = [
  {
    name: 'this build',
    create: (
      (await import(pathToFileURL(resolve('dist/store/sqlite.js')).href)) as { createSqliteStore: Create }
    ).createSqliteStore,
  },
];
if (values.baseline) {
  const mod = (await import(pathToFileURL(resolve(values.baseline, 'store/sqlite.js')).href)) as {
    createSqliteStore: Create;
  };
  builds.push({ name: `baseline (${values.baseline})`, create: mod.createSqliteStore });
}

const DAY = new Date().toISOString().slice(0, 10);
const usage = (id: string, key: string): UsageRecord => ({
  requestId: id,
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

async function once(create: Create, round: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sqlite-writes-'));
  const store = create(join(dir, 't.db'));
  await store.init();
  const periods = [`d:${DAY}`, `m:${DAY.slice(0, 7)}`];
  let next = 0;
  const lat: number[] = [];
  const one = async (i: number) => {
    const id = `${round}-${i}`;
    const key = `k${i % 10}`;
    const t0 = performance.now();
    const r = await store.reserve({
      id,
      key,
      amountUsd: 0.001,
      windows: [{ period: `d:${DAY}`, limitUsd: 1e9 }],
      periods,
      leaseUntil: Date.now() + 600_000,
    });
    if (!r.ok) throw new Error('refused');
    await new Promise((res) => setImmediate(res));
    await store.settle(usage(id, key), periods);
    lat.push(performance.now() - t0);
  };
  const worker = async () => {
    while (next < pairs) await one(next++);
  };
  // Warm-up: the statements prepared, the write worker started.
  await Promise.all(Array.from({ length: 200 }, (_, i) => one(-i - 1)));
  lat.length = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inflight }, worker));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return {
    pairsPerS: Math.round((pairs / ms) * 1000),
    cpuUsPerPair: Math.round((cpu.user + cpu.system) / pairs),
    loopP99Ms: loop.percentile(99) / 1e6,
    loopMaxMs: loop.max / 1e6,
    pairP50Ms: q(0.5),
    pairP99Ms: q(0.99),
  };
}

console.log(`| round | build | pairs/s | CPU µs/pair | loop delay p99 ms | max ms | pair p50 ms | p99 ms |`);
console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (let r = 0; r < rounds; r++) {
  for (const b of r % 2 ? [...builds].reverse() : builds) {
    const m = await once(b.create, `r${r}`);
    console.log(
      `| ${r + 1} | ${b.name} | ${m.pairsPerS} | ${m.cpuUsPerPair} | ${m.loopP99Ms.toFixed(2)} | ${m.loopMaxMs.toFixed(1)} | ${m.pairP50Ms.toFixed(2)} | ${m.pairP99Ms.toFixed(2)} |`,
    );
  }
}
process.exit(0);
