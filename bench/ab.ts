/**
 * `npm run bench:ab -- dist DIR_B …`: CPU per request of several builds of tollgate (SQLite, 10
 * keys), each a `dist/` folder, side by side in one run, for a machine too loaded for wrk's
 * figures. Every build is warmed up, then measured in many small batches (`--batch` requests of
 * one mode, `--connections` at a time on keep-alive sockets, 50 like the wrk of `npm run bench`),
 * the builds taking turns batch by batch. A batch's CPU is the gateway's on-CPU time from
 * /proc/<pid>/task/<tid>/schedstat (nanoseconds, every thread), so it is not rounded to clock
 * ticks. On a shared or overcommitted machine most
 * batches are inflated by what else runs (cache, a vCPU descheduled while counted as running);
 * the low percentiles over hundreds of batches are the batches that ran undisturbed, and those
 * are what the builds are compared by.
 *
 * A build may carry node flags after its folder, in the same argument: `'dist --max-semi-space-size=8'`
 * runs dist/ with that flag (V8's heap settings weigh memory against CPU). Each build's peak RSS
 * over the run (VmHWM) is printed after its CPU.
 *
 *   npm run bench:ab -- dist /path/to/other/dist [--batches 150] [--batch 100] [--connections 50] [--warmup 3000]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Mode } from './lib/configs.js';
import { onCpuNs } from './lib/proc-stats.js';
import { cleanUp, onCleanUp } from './lib/procs.js';
import { sendBatch } from './lib/send-batch.js';
import { startTollgate, startUpstream, type Target } from './lib/targets.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    batches: { type: 'string', default: '150' },
    batch: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '3000' },
    connections: { type: 'string', default: '50' },
  },
});
const dists = positionals.length > 0 ? positionals : ['dist'];
const batches = Number(values.batches);
const batch = Number(values.batch);
const modes: Mode[] = ['json', 'sse'];
const CONCURRENCY = Number(values.connections);
const dir = mkdtempSync(join(tmpdir(), 'tollgate-ab-'));
onCleanUp(() => rmSync(dir, { recursive: true, force: true }));
const log = (s: string) => console.error(`[ab] ${s}`);

/** The most RSS `pid` has had (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))] as number;
};

try {
  const upstream = await startUpstream(dir);
  const targets: Target[] = [];
  for (const [i, build] of dists.entries()) {
    const [dist = 'dist', ...nodeArgs] = build.split(' ').filter(Boolean);
    targets.push(
      await startTollgate(dir, `ab${i}`, build, { upstreamPort: upstream.port, keys: 10, dist, nodeArgs }),
    );
  }
  const agents = targets.map(() => new Agent({ keepAlive: true, maxSockets: CONCURRENCY }));
  for (const [i, t] of targets.entries())
    for (const mode of modes)
      await sendBatch(t, mode, Number(values.warmup), {
        agent: agents[i] as Agent,
        connections: CONCURRENCY,
      });
  const us = targets.map(() => ({ json: [] as number[], sse: [] as number[] }));
  for (let b = 0; b < batches; b++) {
    for (const mode of modes) {
      for (let k = 0; k < targets.length; k++) {
        const i = (k + b) % targets.length;
        const t = targets[i] as Target;
        const pid = t.child.pid as number;
        const before = onCpuNs(pid);
        await sendBatch(t, mode, batch, { agent: agents[i] as Agent, connections: CONCURRENCY });
        us[i]?.[mode].push((onCpuNs(pid) - before) / batch / 1000);
      }
    }
    if ((b + 1) % 25 === 0) log(`${b + 1} of ${batches} batches`);
  }
  for (const mode of modes) {
    const first = us[0]?.[mode] ?? [];
    for (const [i, t] of targets.entries()) {
      const mine = us[i]?.[mode] ?? [];
      const row = [0.05, 0.1, 0.25, 0.5].map((p) => `p${p * 100} ${pct(mine, p).toFixed(0)}`).join(', ');
      const ratio = (p: number) => (pct(mine, p) / pct(first, p)).toFixed(3);
      console.log(
        `${mode} ${t.name}: µs CPU/req ${row}; to the first build p10 ${ratio(0.1)}×, p25 ${ratio(0.25)}×`,
      );
    }
  }
  for (const t of targets)
    console.log(`${t.name}: peak RSS ${peakRssMb(t.child.pid as number).toFixed(0)} MB`);
} finally {
  await cleanUp();
}
