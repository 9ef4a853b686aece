/**
 * `npx tsx bench/memory.ts [DIR …]`: what a tollgate build (a compiled dist/ folder, default
 * dist) holds in memory, started as `npm run bench` starts it (SQLite, 10 keys, pinned to the
 * gateway CPU) and driven by wrk with 50 connections. Per build, the builds taking turns each
 * round: the live heap after a full GC idle and after the load (bench/lib/heap-after-gc.mjs), RSS
 * idle, and at the sample where RSS peaked under wrk its parts (bench/lib/memory-trace.mjs, the
 * bench's CPU pass's reading). RSS under load follows the request rate (V8 lets its old
 * generation grow with what is promoted before it collects): on a loaded machine compare builds
 * over several rounds, and their live heaps first.
 *
 *   npx tsx bench/memory.ts dist /path/to/other/dist [--rounds 3] [--seconds 10] [--mode json]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Mode } from './lib/configs.js';
import { rssOf } from './lib/proc-stats.js';
import { cleanUp, onCleanUp } from './lib/procs.js';
import { startTollgate, startUpstream } from './lib/targets.js';
import { throughput } from './lib/wrk.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    mode: { type: 'string', default: 'json' },
  },
});
const builds = positionals.length > 0 ? positionals : ['dist'];
const mode = values.mode as Mode;
const dir = mkdtempSync(join(tmpdir(), 'tollgate-memory-'));
onCleanUp(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const n0 = (x: number) => x.toFixed(0);
const n1 = (x: number) => x.toFixed(1);

interface AfterGc {
  rssMb: number;
  heapUsedMb: number;
}

/** The last line heap-after-gc.mjs appended once signalled. */
async function afterGc(pid: number, file: string): Promise<AfterGc> {
  const lines = () => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
  const before = lines().length;
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100 && lines().length === before; i++) await sleep(50);
  return JSON.parse(lines().at(-1) as string) as AfterGc;
}

let run = 0;
async function measure(upstreamPort: number, dist: string): Promise<string> {
  const id = `m${++run}`;
  const [trace, gc] = [join(dir, `${id}-peak.json`), join(dir, `${id}-gc.jsonl`)];
  const preload = (f: string) => ['--import', resolve(`bench/lib/${f}`)];
  const t = await startTollgate(dir, id, dist, {
    upstreamPort,
    keys: 10,
    dist,
    nodeArgs: ['--expose-gc', ...preload('memory-trace.mjs'), ...preload('heap-after-gc.mjs')],
    env: { MEMORY_TRACE_OUT: trace, HEAP_AFTER_GC_OUT: gc },
  });
  const pid = t.child.pid as number;
  try {
    await sleep(1_000);
    const idleRss = rssOf([pid]);
    const idle = await afterGc(pid, gc);
    const w = await throughput(dir, t, mode, Number(values.seconds));
    await sleep(1_100); // the trace writes every second
    const peak = JSON.parse(readFileSync(trace, 'utf8')) as Record<string, number>;
    const after = await afterGc(pid, gc);
    return (
      `${dist}: idle RSS ${n0(idleRss)} MB, live heap ${n1(idle.heapUsedMb)} MB | wrk ${mode} ` +
      `${n0(w.rps)} req/s, peak RSS ${n0(w.rssMb)} MB (heap ${n0(peak.heapTotalMb ?? 0)} reserved, ` +
      `${n0(peak.heapUsedMb ?? 0)} used, external ${n0(peak.externalMb ?? 0)}) | after: live heap ${n1(after.heapUsedMb)} MB`
    );
  } finally {
    const exited = new Promise((r) => t.child.once('exit', r));
    t.child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
  }
}

try {
  const upstream = await startUpstream(dir);
  for (let r = 0; r < Number(values.rounds); r++)
    for (let k = 0; k < builds.length; k++) {
      const dist = builds[(k + r) % builds.length] as string;
      console.log(`round ${r + 1} ${await measure(upstream.port, dist)}`);
    }
} finally {
  await cleanUp();
}
