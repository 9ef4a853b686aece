/**
 * `npm run bench`: tollgate against nginx (the reference hop), a plain node:http proxy (the Node
 * floor) and http-proxy-middleware, all in one run, pinned with taskset (targets on CPU 0; wrk,
 * the open-loop generator and the fake upstream on CPU 1), targets interleaved, repeated, medians
 * reported. Writes bench/results/latest.md and latest.json. Installs nothing. Tests never assert
 * on speed; this reports it.
 *
 *   npm run bench [-- --quick] [--rounds N] [--seconds S] [--only nginx,node,hpm,sqlite,sqlite3,10k,pg,pg3,upload,leases,trace]
 *                 [--baseline DIR] [--throughput-only] [--out DIR]
 *
 * `pg3` is three replicas on one PostgreSQL database, driven at once (throughput rows only).
 * `sqlite3` is its control: three SQLite gateways sharing nothing (a file each), pinned to the
 * same core and driven the same way, so the cost of three processes time-sharing one core shows
 * apart from what the shared database costs (throughput rows only).
 * `leases` is bench/lease-db-cpu.ts (the database's CPU per reserve + settle, with leases and
 * without), in a process of its own.
 * `--out DIR` writes latest.md and latest.json there instead of bench/results (smoke runs). The
 * targets are scored against issue 24 (bench/lib/goals.ts); "previous results" are the SQLite row
 * of DIR/latest.json as it was when the run started.
 * `upload` is a 10 MB transcription upload through tollgate against straight to the upstream
 * (bench/upload.ts, in a process of its own): added time and peak RSS growth per upload in flight.
 * `trace` is the traced passes after the rounds (bench/lib/traced.ts): fresh gateways driven again
 * with the stall trace, a CPU profile or statement timing preloaded, whose findings are the causes
 * of the missed targets.
 * `--baseline DIR` also runs another build of tollgate (e.g. main's, compiled into DIR) beside
 * the SQLite and PostgreSQL rows, as "… baseline": an A/B in one run.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTestDatabase } from '../test/helpers/pg.js';
import type { Mode } from './lib/configs.js';
import { parseLeaseDbCpu, parseUpload, previousOf } from './lib/goals.js';
import { type Latency, latency, reloadMs, reloadTimes, type SlowReader, slowReader } from './lib/measure.js';
import { cleanUp, hasCommand, onCleanUp, run } from './lib/procs.js';
import { renderReport } from './lib/report.js';
import {
  LATENCY_RUNS,
  type LatencyLabel,
  type Report,
  type Summary,
  type TargetResult,
} from './lib/report-types.js';
import { median } from './lib/stats.js';
import {
  startHpmProxy,
  startNginx,
  startNodeProxy,
  startTollgate,
  startUpstream,
  type Target,
} from './lib/targets.js';
import { tracePasses } from './lib/traced.js';
import { CONNECTIONS, type Throughput, throughput } from './lib/wrk.js';

/**
 * Each measured run follows this much of the same load, unmeasured: targets take turns, and one
 * idle since its last turn would be measured starting (a PostgreSQL replica's budget leases go back
 * after two idle seconds and are leased again as the load's rate is learnt: in a 5-second run, 7 to
 * 150% more database CPU per request than the same load after 1 s of lead-in, docs/postgres.md).
 */
const LEAD_IN_S = 1;

const IDS = ['nginx', 'node', 'hpm', 'sqlite', 'sqlite3', '10k', 'pg', 'pg3', 'upload', 'leases', 'trace'];
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    only: { type: 'string' },
    baseline: { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    'throughput-only': { type: 'boolean', default: false },
  },
});
const rounds = Math.max(1, Number(values.rounds ?? (values.quick ? 1 : 3)));
const seconds = Math.max(1, Number(values.seconds ?? (values.quick ? 2 : 5)));
const latencySeconds = values.quick ? 2 : 5;
const only = values.only ? values.only.split(',').map((s) => s.trim()) : [];
const unknown = only.filter((id) => !IDS.includes(id));
if (unknown.length || !Number.isFinite(rounds) || !Number.isFinite(seconds)) {
  console.error(
    `usage: npm run bench -- [--quick] [--rounds N] [--seconds S] [--only ${IDS.join(',')}] [--baseline DIR] [--out DIR]`,
  );
  process.exit(2);
}
const wanted = (id: string) => only.length === 0 || only.includes(id);

const missing = ['wrk', 'nginx', 'taskset'].filter((c) => !hasCommand(c));
if (missing.length > 0) {
  console.error(
    `npm run bench needs ${missing.join(', ')}, and installs nothing itself. Install with:\n` +
      '  apt-get install -y wrk nginx-light   (taskset is in util-linux)',
  );
  process.exit(1);
}
if (cpus().length < 2)
  console.warn('[bench] one CPU: targets and load share it; ratios hold, absolutes do not');

const log = (s: string) => console.error(`[bench] ${s}`);
const outDir = values.out as string;
// Read before anything overwrites it: "no worse than the previous results" compares against it.
// A fresh --out folder has none: then the committed results are the previous ones.
const previousFile =
  [join(outDir, 'latest.json'), 'bench/results/latest.json'].find((f) => existsSync(f)) ?? '';
const previous = previousFile
  ? previousOf(previousFile, JSON.parse(readFileSync(previousFile, 'utf8')))
  : undefined;
if (previous) log(`previous results: ${previousFile} of ${previous.date}`);
const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
onCleanUp(() => rmSync(dir, { recursive: true, force: true }));
const notes: string[] = [];
const loadAtStart = loadavg();

try {
  const upstream = await startUpstream(dir);
  const up = upstream.port;
  const targets: Target[] = [];
  if (wanted('nginx')) targets.push(await startNginx(dir, up));
  if (wanted('node')) targets.push(await startNodeProxy(dir, up));
  if (wanted('hpm')) targets.push(await startHpmProxy(dir, up));
  const opts = (keys: number) => ({ upstreamPort: up, keys });
  const builds: Array<{ dist: string; suffix: string; tag: string }> = [
    { dist: 'dist', suffix: '', tag: '' },
  ];
  if (values.baseline) builds.push({ dist: values.baseline, suffix: '-base', tag: ' baseline' });
  for (const b of builds) {
    const o = (keys: number) => ({ ...opts(keys), dist: b.dist });
    if (wanted('sqlite'))
      targets.push(
        await startTollgate(dir, `sqlite${b.suffix}`, `tollgate${b.tag} (SQLite, 10 keys)`, o(10)),
      );
    if (wanted('10k') && !b.suffix)
      targets.push(await startTollgate(dir, '10k', 'tollgate (SQLite, 10,000 keys)', o(10_000)));
    if (wanted('sqlite3') && !b.suffix) {
      const replicas: Target[] = [];
      for (let i = 0; i < 3; i++)
        replicas.push(await startTollgate(dir, `sqlite3-${i}`, `process ${i}`, o(10)));
      targets.push({
        ...(replicas[0] as Target),
        id: 'sqlite3',
        name: 'tollgate (SQLite, 3 processes sharing nothing, on the same core)',
        replicas,
      });
    }
    for (const id of ['pg', 'pg3'].filter(wanted)) {
      try {
        const db = await createTestDatabase('tollgate_bench');
        onCleanUp(() => db.drop());
        const pgOpts = { ...o(10), store: db.url };
        if (id === 'pg') {
          targets.push({
            ...(await startTollgate(dir, `pg${b.suffix}`, `tollgate${b.tag} (PostgreSQL, 10 keys)`, pgOpts)),
            database: db.name,
          });
          continue;
        }
        // One after the other: the first applies the migrations, the others find them applied.
        const replicas: Target[] = [];
        for (let i = 0; i < 3; i++)
          replicas.push(await startTollgate(dir, `pg3${b.suffix}-${i}`, `replica ${i}`, pgOpts));
        const first = replicas[0] as Target;
        targets.push({
          ...first,
          id: `pg3${b.suffix}`,
          name: `tollgate${b.tag} (PostgreSQL, 3 replicas on one database)`,
          database: db.name,
          replicas,
        });
      } catch (err) {
        notes.push(`PostgreSQL rows skipped: ${(err as Error).message}`);
        log(notes.at(-1) as string);
      }
    }
  }

  const tp = new Map<string, Record<Mode, Throughput[]>>(targets.map((t) => [t.id, { json: [], sse: [] }]));
  // Per target and label, one Latency per round (undefined when skipped), index-aligned with direct's.
  const lat = new Map<string, Record<string, Array<Latency | undefined>>>(
    [upstream, ...targets].map((t) => [t.id, {}]),
  );

  log(`warm-up: 2 s per target and mode`);
  for (const t of targets) for (const mode of ['json', 'sse'] as const) await throughput(dir, t, mode, 2);

  // The slow reader runs on warmed-up but otherwise fresh processes: after minutes of load, a
  // heap full of garbage could hide a buffered stream in the RSS.
  const slow: SlowReader[] = [];
  const slowTargets = values['throughput-only'] ? [] : ['nginx', 'node', 'sqlite'];
  for (const t of targets.filter((t) => slowTargets.includes(t.id))) {
    log(`slow reader through ${t.name} (10 MiB stream read at ~1 KiB/s, 10 s)`);
    slow.push(await slowReader(t, up, 10));
  }

  for (let r = 0; r < rounds; r++) {
    // Interleaved, and a different order each round, so drift on the machine hits every target.
    const order = targets.map((_, i) => targets[(i + r) % targets.length] as Target);
    for (const t of order) {
      for (const mode of ['json', 'sse'] as const) {
        const m = await throughput(dir, t, mode, seconds, CONNECTIONS, LEAD_IN_S);
        tp.get(t.id)?.[mode].push(m);
        log(
          `round ${r + 1} ${t.name} ${mode}: ${Math.round(m.rps)} req/s, ${m.cpuUsPerRequest.toFixed(0)} µs CPU/req, ${m.rssMb.toFixed(0)} MB`,
        );
      }
    }
    for (const [mode, rate] of values['throughput-only'] ? [] : LATENCY_RUNS) {
      const label = `${mode}@${rate}`;
      for (const t of [upstream, ...order]) {
        const runs = lat.get(t.id) as Record<string, Array<Latency | undefined>>;
        runs[label] ??= [];
        // An open loop above what a target can serve only measures its queue (and leaves a backlog
        // that spoils the next run): rates above 2/3 of its measured throughput are skipped.
        const capacity = median(tp.get(t.id)?.[mode].map((x) => x.rps) ?? []);
        if (t.replicas) continue; // open-loop latency is one port's; the replicas row is throughput only
        if (rate > (capacity * 2) / 3) {
          runs[label][r] = undefined;
          log(`round ${r + 1} ${t.name} ${label}: skipped, above 2/3 of its ${Math.round(capacity)} req/s`);
          continue;
        }
        const l = await latency(t, mode, rate, latencySeconds);
        runs[label][r] = l;
        if (l.errors) {
          notes.push(`${t.name} ${label}, round ${r + 1}: open-loop errors ${JSON.stringify(l.errorKinds)}.`);
          log(`warning: ${notes.at(-1)}`);
        }
        log(
          `round ${r + 1} ${t.name} ${label}: p50 ${l.latencyUs.p50} µs, p99 ${l.latencyUs.p99} µs, TTFB p50 ${l.ttfbUs.p50} µs (send lag p99 ${l.sendLagUs.p99} µs)`,
        );
      }
    }
  }

  let reload: Report['reloadMs'] = null;
  const tenK = targets.find((t) => t.id === '10k');
  if (tenK) {
    log('reloads of the 10,000-key file');
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      runs.push(await reloadMs(tenK, i));
      await new Promise((r) => setTimeout(r, 300));
    }
    // Each reload's own times, from the gateway's log (flushed within 200 ms; the loop waited 300).
    const gateway = tenK.log ? reloadTimes(tenK.log, runs.length) : undefined;
    reload = { runs, median: median(runs), max: Math.max(...runs), ...(gateway ? { gateway } : {}) };
  }

  let upload: Report['upload'];
  if (wanted('upload')) {
    log('a 10 MB transcription upload, through tollgate and direct');
    const out = await run(
      'npx',
      ['tsx', 'bench/upload.ts', '--rounds', String(Math.max(3, rounds)), '--json'],
      300_000,
    );
    upload = parseUpload(out);
    if (!upload) notes.push(`upload row: no result parsed from bench/upload.ts (${out.trim().slice(-200)})`);
  }

  let leases: Report['leases'];
  if (wanted('leases')) {
    log('the database CPU per reserve + settle, with leases and without (bench/lease-db-cpu.ts)');
    try {
      const out = await run(
        'npx',
        ['tsx', 'bench/lease-db-cpu.ts', ...(values.quick ? ['500'] : [])],
        600_000,
      );
      leases = parseLeaseDbCpu(out);
      if (!leases)
        notes.push(`leases row: no result parsed from bench/lease-db-cpu.ts (${out.trim().slice(-200)})`);
    } catch (err) {
      notes.push(`leases row skipped: ${(err as Error).message}`);
    }
  }

  // After the rounds, never counted in them: fresh gateways with instruments preloaded, so the
  // targets' causes come from this run (bench/lib/traced.ts).
  let traced: Report['traced'];
  if (wanted('trace') && !values['throughput-only'] && targets.some((t) => t.id === 'sqlite')) {
    const ran = lat.get('sqlite') ?? {};
    const labels = (Object.keys(ran) as LatencyLabel[]).filter((l) => ran[l]?.some((x) => x !== undefined));
    const pgUrl = async () => {
      const db = await createTestDatabase('tollgate_bench');
      onCleanUp(() => db.drop());
      return db.url;
    };
    traced = await tracePasses({
      dir,
      upstreamPort: up,
      seconds: latencySeconds,
      labels,
      ...(values.baseline ? { baseline: values.baseline } : {}),
      ...(wanted('pg') ? { pgUrl } : {}),
      log,
      notes,
    });
  }

  const results: TargetResult[] = [upstream, ...targets].map((t) => result(t));
  for (const t of results) {
    const errors = (t.json?.errors ?? 0) + (t.sse?.errors ?? 0);
    if (errors) notes.push(`${t.name}: ${errors} wrk errors (non-2xx or socket) — see its row.`);
  }
  const report: Report = {
    date: new Date().toISOString(),
    args: {
      rounds,
      seconds,
      latencySeconds,
      only,
      ...(values.baseline ? { baseline: values.baseline } : {}),
    },
    machine: {
      node: process.version,
      nginx: (await run('sh', ['-c', 'nginx -v 2>&1'])).trim(),
      wrk: (await run('sh', ['-c', 'wrk -v 2>&1 | head -n1'])).trim().split(' Copyright')[0] as string,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? '?',
      loadavg: loadAtStart,
    },
    targets: results,
    slowReader: slow,
    reloadMs: reload,
    ...(previous ? { previous } : {}),
    ...(upload ? { upload } : {}),
    ...(leases ? { leases } : {}),
    ...(traced ? { traced } : {}),
    notes,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, round, 2)}\n`);
  // In the repository's own format, so `npm run check` (biome) stays green after a run.
  await run(process.execPath, [
    'node_modules/@biomejs/biome/bin/biome',
    'format',
    '--write',
    join(outDir, 'latest.json'),
  ]).catch((err) => log(`latest.json left unformatted: ${(err as Error).message}`));
  const md = renderReport(report);
  writeFileSync(join(outDir, 'latest.md'), md);
  console.log(md);

  /** Medians over rounds; added latency per round against direct's run of the same round. */
  function result(t: Target): TargetResult {
    const m = tp.get(t.id);
    const runs = lat.get(t.id) ?? {};
    const direct = lat.get('direct') ?? {};
    const res: TargetResult = {
      id: t.id,
      name: t.name,
      ...(m ? { json: summarize(m.json), sse: summarize(m.sse) } : {}),
      latency: {},
      added: {},
    };
    for (const [label, ls] of Object.entries(runs) as Array<[LatencyLabel, Array<Latency | undefined>]>) {
      const ran = ls.filter((l): l is Latency => l !== undefined);
      if (ran.length === 0) continue;
      res.latency[label] = {
        p50: median(ran.map((l) => l.latencyUs.p50)),
        p99: median(ran.map((l) => l.latencyUs.p99)),
        ttfbP50: median(ran.map((l) => l.ttfbUs.p50)),
        errors: ran.reduce((a, l) => a + l.errors, 0),
        sendLagP99: median(ran.map((l) => l.sendLagUs.p99)),
      };
      const diff = (f: (l: Latency) => number) =>
        median(
          ls.map((l, i) => {
            const d = direct[label]?.[i];
            return l && d ? f(l) - f(d) : Number.NaN;
          }),
        );
      res.added[label] = {
        p50: diff((l) => l.latencyUs.p50),
        p99: diff((l) => l.latencyUs.p99),
        ttfbP50: diff((l) => l.ttfbUs.p50),
      };
    }
    return res;
  }
} finally {
  await cleanUp();
}
process.exit(0);

/** µs, ms and MB with more than one decimal are noise in a results file; shares below 1 keep three. */
function round(_key: string, v: unknown): unknown {
  if (typeof v !== 'number' || Number.isInteger(v)) return v;
  return Math.abs(v) < 1 ? Math.round(v * 1000) / 1000 : Math.round(v * 10) / 10;
}

function summarize(ms: Throughput[]): Summary {
  return {
    rps: median(ms.map((m) => m.rps)),
    cpuUsPerRequest: median(ms.map((m) => m.cpuUsPerRequest)),
    ...(ms.some((m) => m.dbCpuUsPerRequest !== undefined)
      ? { dbCpuUsPerRequest: median(ms.map((m) => m.dbCpuUsPerRequest ?? 0)) }
      : {}),
    ...(ms.some((m) => m.requestsPerDbWrite !== undefined)
      ? {
          requestsPerDbWrite: median(
            ms.flatMap((m) => (m.requestsPerDbWrite === undefined ? [] : [m.requestsPerDbWrite])),
          ),
        }
      : {}),
    rssMb: Math.max(...ms.map((m) => m.rssMb)),
    errors: ms.reduce((a, m) => a + m.errors, 0),
  };
}
