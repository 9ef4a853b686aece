/**
 * `npm run bench`: tollgate against nginx (the reference hop) and a plain node:http proxy (the
 * Node floor), all in one run, pinned with taskset (targets on CPU 0; wrk, the open-loop
 * generator and the fake upstream on CPU 1), targets interleaved, repeated, medians reported.
 * Writes bench/results/latest.md and latest.json. Tests never assert on speed; this reports it.
 *
 *   npm run bench [-- --quick] [--rounds N] [--seconds S]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/pg.js';
import {
  type Latency,
  latency,
  type Mode,
  reloadMs,
  slowReader,
  type Throughput,
  throughput,
} from './measure.js';
import { hasCommand, killAll, run } from './procs.js';
import { type Report, renderReport } from './report.js';
import { median } from './stats.js';
import { startNginx, startNodeProxy, startTollgate, startUpstream, type Target } from './targets.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
  },
});
const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));
const seconds = Number(values.seconds ?? (values.quick ? 2 : 5));
const latencySeconds = values.quick ? 2 : 4;

const missing = ['wrk', 'nginx', 'taskset'].filter((c) => !hasCommand(c));
if (missing.length > 0) {
  console.error(
    `npm run bench needs ${missing.join(', ')}; install with:\n  sudo apt-get install -y wrk nginx-light util-linux\n(nothing is installed for you)`,
  );
  process.exit(1);
}
if (cpus().length < 2)
  console.warn('only one CPU: targets and load share it; ratios still hold, absolutes do not');

const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
const log = (s: string) => console.error(`[bench] ${s}`);
let db: TestDatabase | undefined;

try {
  const upstream = await startUpstream(dir);
  const up = upstream.port;
  const targets: Target[] = [
    await startNginx(dir, up),
    await startNodeProxy(dir, up),
    await startTollgate(dir, 'tollgate (SQLite, 10 keys)', { upstreamPort: up, keys: 10 }),
    await startTollgate(dir, 'tollgate (SQLite, 10,000 keys)', { upstreamPort: up, keys: 10_000 }),
  ];
  try {
    db = await createTestDatabase('tollgate_bench');
    targets.push(
      await startTollgate(dir, 'tollgate (PostgreSQL, 10 keys)', {
        upstreamPort: up,
        keys: 10,
        store: db.url,
      }),
    );
  } catch (err) {
    log(`PostgreSQL rows skipped: ${(err as Error).message}`);
  }

  const tp = new Map<string, Record<Mode, Throughput[]>>();
  const lat = new Map<string, Record<string, Latency[]>>();
  for (const t of [upstream, ...targets]) lat.set(t.name, {});
  for (const t of targets) tp.set(t.name, { json: [], sse: [] });

  for (const t of targets) for (const mode of ['json', 'sse'] as const) await throughput(dir, t, mode, 1); // warm-up
  for (let r = 0; r < rounds; r++) {
    // Interleaved, and a different order each round, so drift on the machine hits every target.
    const order = targets.map((_, i) => targets[(i + r) % targets.length] as Target);
    for (const t of order) {
      for (const mode of ['json', 'sse'] as const) {
        const m = await throughput(dir, t, mode, seconds);
        tp.get(t.name)?.[mode].push(m);
        log(
          `round ${r + 1} ${t.name} ${mode}: ${Math.round(m.rps)} req/s, ${m.cpuUsPerRequest.toFixed(0)} µs CPU/req`,
        );
      }
    }
    for (const t of [upstream, ...order]) {
      for (const [label, mode, rate] of [
        ['json@200', 'json', 200],
        ['json@2000', 'json', 2000],
        ['sse@200', 'sse', 200],
      ] as const) {
        // An open loop above what a target can serve only measures its queue (and leaves a backlog
        // that spoils the next run): rates beyond 2/3 of its measured throughput are skipped.
        const capacity = tp.get(t.name)?.[mode].at(-1)?.rps ?? Number.POSITIVE_INFINITY;
        if (rate > capacity * (2 / 3)) {
          log(`round ${r + 1} ${t.name} ${label}: skipped, above 2/3 of its ${Math.round(capacity)} req/s`);
          continue;
        }
        const l = await latency(t, mode, rate, latencySeconds);
        const byLabel = lat.get(t.name) as Record<string, Latency[]>;
        byLabel[label] = [...(byLabel[label] ?? []), l];
        log(`round ${r + 1} ${t.name} ${label}: p50 ${l.latencyUs.p50} µs, p99 ${l.latencyUs.p99} µs`);
      }
    }
  }

  const sqlite = targets[2] as Target & { configFile?: string };
  const tenK = targets[3] as Target & { configFile: string };
  log('slow reader (10 MiB stream read at 1 KiB/s)');
  const slow = await slowReader(sqlite, up, values.quick ? 5 : 10);
  log('reloads of the 10,000-key file');
  const reloads: number[] = [];
  for (let i = 0; i < 5; i++) reloads.push(await reloadMs(tenK, tenK.configFile, i));

  const versions = {
    node: process.version,
    nginx: (await run('sh', ['-c', 'nginx -v 2>&1'])).trim(),
    wrk: (await run('sh', ['-c', 'wrk -v 2>&1 | head -n1'])).trim(),
  };
  const report: Report = {
    date: new Date().toISOString(),
    args: { rounds, seconds, latencySeconds },
    versions,
    cpus: cpus().length,
    throughput: [...tp].map(([name, m]) => ({
      name,
      json: summarize(m.json),
      sse: summarize(m.sse),
    })),
    latency: [...lat].map(([name, byLabel]) => ({
      name,
      ...Object.fromEntries(
        Object.entries(byLabel).map(([label, ls]) => [
          label,
          {
            p50: median(ls.map((l) => l.latencyUs.p50)),
            p99: median(ls.map((l) => l.latencyUs.p99)),
            firstEventP50: median(ls.map((l) => l.firstEventUs.p50)),
            errors: ls.reduce((a, l) => a + l.errors, 0),
          },
        ]),
      ),
    })),
    slowReader: slow,
    reloadMs: { median: median(reloads), max: Math.max(...reloads) },
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/latest.json', `${JSON.stringify(report, null, 2)}\n`);
  const md = renderReport(report);
  writeFileSync('bench/results/latest.md', md);
  console.log(md);
} finally {
  killAll();
  await db?.drop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}

function summarize(ms: Throughput[]) {
  return {
    rps: median(ms.map((m) => m.rps)),
    cpuUsPerRequest: median(ms.map((m) => m.cpuUsPerRequest)),
    rssMb: Math.max(...ms.map((m) => m.rssMb)),
    errors: ms.reduce((a, m) => a + m.errors, 0),
  };
}
