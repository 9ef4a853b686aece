/**
 * `npm run bench`'s 10,000-key reload row on its own, for one build or several side by side:
 * each build is `node DIST/cli.js serve` with the bench's 10,000-key keys.yaml, pinned like the
 * bench (bench/lib/targets.ts), and a block is the row's protocol exactly: five times, append a
 * comment to keys.yaml + SIGHUP, poll /healthz every 1 ms until it serves the new revision, wait
 * 300 ms. Blocks alternate between the builds (0.5 s apart, after 1.5 s for the last one's
 * leftover work, so none lands in another's block); per build it prints each block's max, the
 * median and max of all its reloads, the gateway's CPU per block (/proc, all threads, until 1.5 s
 * after its last reload: GC and the watcher's own reloads included), the median of each of the
 * gateway's own reload times (its `config reloaded` log lines; a build that logs none shows
 * none), and the cause the row would print for its slowest block. A DIST outside the repository's
 * root needs ../schemas and ../package.json beside it.
 *
 *   npx tsx bench/reload-10k.ts [--blocks 4] [DIST ...]   (default: dist)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { reloadCause } from './lib/causes.js';
import { type ReloadTimes, reloadMs, reloadTimes } from './lib/measure.js';
import { cpuOf, pidTree } from './lib/proc-stats.js';
import { cleanUp, onCleanUp } from './lib/procs.js';
import { median } from './lib/stats.js';
import { startTollgate, startUpstream, type Target } from './lib/targets.js';

const { values, positionals } = parseArgs({
  options: { blocks: { type: 'string', default: '4' } },
  allowPositionals: true,
});
const blocks = Number(values.blocks);
const dists = positionals.length > 0 ? positionals : ['dist'];
const PER_BLOCK = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Block {
  runs: number[];
  cpuMs: number;
  gateway?: ReloadTimes[];
}

const dir = mkdtempSync(join(tmpdir(), 'tollgate-reload10k-'));
onCleanUp(() => rmSync(dir, { recursive: true, force: true }));
try {
  const up = await startUpstream(dir);
  const targets: Target[] = [];
  for (const [i, dist] of dists.entries())
    targets.push(await startTollgate(dir, `10k-${i}`, dist, { upstreamPort: up.port, keys: 10_000, dist }));
  const results = new Map<Target, Block[]>(targets.map((t) => [t, []]));
  for (let b = 0; b < blocks; b++) {
    for (const t of b % 2 ? [...targets].reverse() : targets) {
      await sleep(500);
      const pids = pidTree(t.child.pid as number);
      const cpu0 = cpuOf(pids);
      const runs: number[] = [];
      for (let i = 0; i < PER_BLOCK; i++) {
        runs.push(await reloadMs(t, b * PER_BLOCK + i));
        await sleep(300);
      }
      // The watcher's own reloads of the last change run after the loop: counted too.
      await sleep(1_500);
      const cpuMs = (cpuOf(pids) - cpu0) / 1000;
      const gateway = t.log ? reloadTimes(t.log, PER_BLOCK) : undefined;
      results.get(t)?.push({ runs, cpuMs, ...(gateway ? { gateway } : {}) });
      const f = (x: number) => x.toFixed(0);
      console.error(
        `[reload-10k] block ${b + 1} ${t.name}: ${runs.map(f).join(', ')} ms; CPU ${f(cpuMs)} ms`,
      );
    }
  }
  for (const [t, bs] of results) {
    const all = bs.flatMap((x) => x.runs);
    const maxes = bs.map((x) => Math.max(...x.runs));
    const worst = bs[maxes.indexOf(Math.max(...maxes))] as Block;
    console.log(
      `${t.name}: max of 5 per block ${maxes.map((x) => x.toFixed(1)).join(', ')} ms; all ${all.length} reloads: ` +
        `median ${median(all).toFixed(1)} ms, max ${Math.max(...all).toFixed(1)} ms; gateway CPU per block of 5: ` +
        `median ${median(bs.map((x) => x.cpuMs)).toFixed(0)} ms`,
    );
    const times = bs.flatMap((x) => x.gateway ?? []);
    const phases = [...new Set(times.flatMap((x) => Object.keys(x.phases)))];
    if (times.length)
      console.log(
        `  the gateway's own times, median of ${times.length}: reload ${median(times.map((x) => x.ms)).toFixed(1)} ms, ` +
          `queued ${median(times.map((x) => x.queuedMs)).toFixed(1)} ms; ` +
          phases.map((p) => `${p} ${median(times.map((x) => x.phases[p] ?? 0)).toFixed(1)}`).join(', '),
      );
    console.log(`  cause (slowest block): ${reloadCause(worst)}`);
  }
} finally {
  await cleanUp();
}
