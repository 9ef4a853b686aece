/**
 * The traced passes of `npm run bench`: after the measured rounds, a fresh gateway of the same
 * build is driven again under the same load with instruments preloaded, so the targets' causes
 * come from this run, not from an old reading. Each pass is its own process (so one pass's
 * stalls, frames or statements are not another's), warmed up first, and never counted in the
 * rounds' figures:
 * - a latency pass: the open loop at one rate with the event-loop stall trace (stall-trace.mjs):
 *   how much of the stalled time GC, SQLite transactions or nothing traced (the process not
 *   scheduled) covered;
 * - a CPU pass: wrk with a CPU profile of its measured window (cpu-window.mjs): self time per
 *   function, in µs per request, and the peaks of its memory by part (memory-trace.mjs);
 * - on PostgreSQL, a latency pass with every statement's round trip timed (pg-count.mjs): the
 *   settle's round trip is what each response waits for.
 * bench/profile.ts prints the same instruments' findings at length.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Mode } from './configs.js';
import { latency } from './measure.js';
import type {
  FrameCost,
  LatencyLabel,
  Traced,
  TracedLatency,
  TracedMemory,
  TracedStatements,
} from './report-types.js';
import { median } from './stats.js';
import { startTollgate, type Target } from './targets.js';
import { throughput } from './wrk.js';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/**
 * A frame's file as `dist/…` whatever folder its build was in (`build`: that folder), so that two
 * builds' frames match, or `node_modules/…`.
 */
const short = (url: string, build: string) => {
  const root = `${pathToFileURL(resolve(build)).href}/`;
  return url.startsWith(root)
    ? `dist/${url.slice(root.length)}`
    : url.replace(/^.*\/(node_modules|dist|src)\//, '$1/');
};

/**
 * Self time by function (name and file, not line: lines move between builds) as a share of the
 * profile's non-idle samples; `build` is the folder of the build that ran (default dist/).
 */
export function selfShares(file: string, build = 'dist'): Map<string, number> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
  const self = new Map<string, number>();
  let total = 0;
  for (const node of p.nodes) {
    const f = node.callFrame;
    if (f.functionName === '(idle)') continue;
    const hits = node.hitCount ?? 0;
    total += hits;
    // A function without a file is native (better-sqlite3's `run`, `writev`): say so.
    const fn = f.functionName || '(anonymous)';
    const name = f.url ? `${fn} ${short(f.url, build)}` : fn.startsWith('(') ? fn : `${fn} (native)`;
    self.set(name, (self.get(name) ?? 0) + hits);
  }
  for (const [k, v] of self) self.set(k, total ? v / total : 0);
  return self;
}

/** The top `n` functions of a profile in µs per request, given the pass's CPU per request. */
export function topFrames(shares: Map<string, number>, cpuUsPerRequest: number, n: number): FrameCost[] {
  return [...shares]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, share]) => ({ frame, share, us: share * cpuUsPerRequest }));
}

/** What the stall trace wrote last (bench/lib/stall-trace.mjs). */
export interface StallSummary {
  attribution: { stallMs: number; gcMs: number; sqliteMs: number; stdoutMs: number; untracedMs: number };
  loopDelayMs: { p50: number; p99: number; p999: number; max: number };
  stalls: { n: number; totalMs: number };
  byKind: Record<string, { n: number; totalMs: number; maxMs: number; over5ms: number }>;
  explained: Array<{ start: number; ms: number; during: Array<Record<string, unknown>> }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops a traced gateway with SIGTERM, waiting at most 15 s for it to exit. */
async function stop(t: Target): Promise<void> {
  const exited = new Promise((r) => t.child.once('exit', r));
  t.child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
}

export interface PassOptions {
  dir: string;
  upstreamPort: number;
  /** The build (dist/ or the --baseline one). */
  dist: string;
  /** A PostgreSQL store URL; SQLite (a fresh file) when absent. */
  store?: string;
  seconds: number;
}

/**
 * Seconds of wrk, in the pass's own mode, before a pass measures: a fresh gateway's first seconds
 * under load cost it up to twice the CPU per stream it settles at (measured: 914 against ~480 µs
 * per SSE stream in the 4 s after a 2 s warm-up), and the rounds' gateways had run for minutes.
 */
const WARM_UP_S = 8;

let passes = 0;
async function start(
  o: PassOptions,
  mode: Mode,
  nodeArgs: string[],
  env: NodeJS.ProcessEnv,
): Promise<Target> {
  const id = `traced-${++passes}`;
  const t = await startTollgate(o.dir, id, id, {
    upstreamPort: o.upstreamPort,
    keys: 10,
    dist: o.dist,
    ...(o.store ? { store: o.store } : {}),
    nodeArgs,
    env,
  });
  await throughput(o.dir, t, mode, WARM_UP_S);
  return t;
}

/** The open loop at `rate` with the stall trace preloaded: what covered the stalled time. */
export async function stallPass(o: PassOptions, mode: Mode, rate: number): Promise<TracedLatency> {
  const out = join(o.dir, `stalls-${passes + 1}.json`);
  const t = await start(o, mode, ['--import', resolve('bench/lib/stall-trace.mjs')], {
    STALL_TRACE_OUT: out,
  });
  try {
    t.child.kill('SIGUSR2'); // the trace forgets start-up and warm-up
    await sleep(100);
    const l = await latency(t, mode, rate, o.seconds);
    await sleep(1_600); // the trace writes every second and attributes stalls half a second old
    const s = JSON.parse(readFileSync(out, 'utf8')) as StallSummary;
    return {
      label: `${mode}@${rate}` as LatencyLabel,
      p50Us: l.latencyUs.p50,
      p99Us: l.latencyUs.p99,
      loopDelayP99Ms: s.loopDelayMs.p99,
      stalls: s.stalls.n,
      ...s.attribution,
    };
  } finally {
    await stop(t);
  }
}

/**
 * wrk with a CPU profile of the measured window only (cpu-window.mjs): self time per function in µs
 * per request of this pass (the `top` costliest, enough that two builds can be compared:
 * causes.ts), and the process's memory at its RSS peak (memory-trace.mjs).
 */
export async function cpuPass(
  o: PassOptions,
  mode: Mode,
  top: number,
): Promise<{ frames: FrameCost[]; memory?: TracedMemory }> {
  const n = passes + 1;
  const [profFile, memFile] = [join(o.dir, `cpu-${n}.cpuprofile`), join(o.dir, `memory-${n}.json`)];
  const preload = (f: string) => ['--import', resolve(`bench/lib/${f}`)];
  const t = await start(o, mode, [...preload('cpu-window.mjs'), ...preload('memory-trace.mjs')], {
    CPU_WINDOW_OUT: profFile,
    MEMORY_TRACE_OUT: memFile,
  });
  try {
    t.child.kill('SIGUSR2'); // the profile starts
    const cpu = (await throughput(o.dir, t, mode, o.seconds)).cpuUsPerRequest;
    t.child.kill('SIGUSR2'); // and stops
    await sleep(1_100); // the profile is written; the memory trace writes every second
    const memory = JSON.parse(readFileSync(memFile, 'utf8')) as TracedMemory;
    return { frames: topFrames(selfShares(profFile, o.dist), cpu, top), memory };
  } finally {
    await stop(t);
  }
}

/** The open loop at `rate` on PostgreSQL with every statement's round trip timed. */
export async function statementPass(o: PassOptions, rate: number): Promise<TracedStatements> {
  const file = join(o.dir, `pg-count-${passes + 1}.json`);
  const t = await start(o, 'json', ['--import', resolve('bench/lib/pg-count.mjs')], { PG_COUNT_FILE: file });
  const snap = async () => {
    t.child.kill('SIGUSR2');
    await sleep(300);
    return JSON.parse(readFileSync(file, 'utf8')) as Record<
      string,
      { calls: number; ms: number; samples: number[] }
    >;
  };
  try {
    const before = await snap();
    const l = await latency(t, 'json', rate, o.seconds);
    const after = await snap();
    const settle = (name: string) => {
      const calls = (after[name]?.calls ?? 0) - (before[name]?.calls ?? 0);
      const ms = (after[name]?.ms ?? 0) - (before[name]?.ms ?? 0);
      const these = (after[name]?.samples ?? []).slice(before[name]?.samples.length ?? 0);
      return { calls, meanMs: calls ? ms / calls : 0, p50Ms: these.length ? median(these) : 0 };
    };
    return {
      label: `json@${rate}`,
      requests: l.done,
      p50Us: l.latencyUs.p50,
      leasedSettle: settle('tollgate_settle_leased'),
      settleMany: settle('tollgate_settle_many'),
    };
  } finally {
    await stop(t);
  }
}

/** Functions kept per CPU pass: enough that two builds' lists overlap on every frame that matters. */
const KEPT_FRAMES = 200;

/**
 * Every traced pass of a run: SQLite stall passes at `labels` (the rates the tail rows ran at),
 * CPU passes of this build and of the baseline (JSON and SSE), and a PostgreSQL statement pass at
 * 200/s when `pgUrl` gives a fresh database. A pass that fails is left out and noted.
 */
export async function tracePasses(o: {
  dir: string;
  upstreamPort: number;
  seconds: number;
  labels: LatencyLabel[];
  baseline?: string;
  pgUrl?: () => Promise<string>;
  log: (s: string) => void;
  notes: string[];
}): Promise<Traced> {
  const base = { dir: o.dir, upstreamPort: o.upstreamPort, seconds: o.seconds, dist: 'dist' };
  const traced: Traced = { stalls: [], frames: {} };
  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    o.log(`traced pass: ${what}`);
    try {
      return await fn();
    } catch (err) {
      o.notes.push(`traced pass ${what} failed: ${(err as Error).message}`);
      return undefined;
    }
  };
  for (const label of o.labels) {
    const [mode, rate] = label.split('@') as [Mode, string];
    const s = await attempt(`SQLite ${label} with the stall trace`, () =>
      stallPass(base, mode, Number(rate)),
    );
    if (s) traced.stalls.push(s);
  }
  const builds: Array<[string, string]> = [['sqlite', 'dist']];
  if (o.baseline) builds.push(['sqlite-base', o.baseline]);
  for (const [id, dist] of builds)
    for (const mode of ['json', 'sse'] as const) {
      const p = await attempt(`${id} ${mode} under wrk with a CPU profile`, () =>
        cpuPass({ ...base, dist }, mode, KEPT_FRAMES),
      );
      if (p?.frames.length) traced.frames[id] = { ...traced.frames[id], [mode]: p.frames };
      if (p?.memory && id === 'sqlite' && mode === 'json') traced.memory = p.memory;
    }
  const pgUrl = o.pgUrl;
  if (pgUrl) {
    const pg = await attempt('PostgreSQL json@200 with statement round trips', async () =>
      statementPass({ ...base, store: await pgUrl() }, 200),
    );
    if (pg) traced.pg = pg;
  }
  return traced;
}
