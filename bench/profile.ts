/**
 * `npm run bench:profile`: where tollgate spends its CPU and why its event loop stalls, under the
 * bench's load. Starts the fake upstream and tollgate (SQLite, and PostgreSQL when reachable)
 * pinned like `npm run bench`, with `node --cpu-prof` and the stall trace
 * (bench/lib/stall-trace.mjs) preloaded; drives each with the open loop at `--rate` req/s (JSON,
 * then SSE) and with wrk (JSON, closed loop); stops it with SIGTERM so the profile is written;
 * prints the top frames by self time and the stalls over 5 ms with what ran during them.
 * Profiles and traces stay in bench/results/profile/ (not committed).
 *
 *   npm run bench:profile [-- --only sqlite,pg] [--rate 2000] [--seconds 5]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createTestDatabase } from '../test/helpers/pg.js';
import { latency } from './lib/measure.js';
import { cleanUp, onCleanUp } from './lib/procs.js';
import { startTollgate, startUpstream, type Target } from './lib/targets.js';
import { type StallSummary, selfShares, topFrames } from './lib/traced.js';
import { throughput } from './lib/wrk.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'sqlite,pg' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '5' },
    top: { type: 'string', default: '20' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const top = Number(values.top);
const outDir = resolve('bench/results/profile');
mkdirSync(outDir, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'tollgate-profile-'));
onCleanUp(() => rmSync(dir, { recursive: true, force: true }));
const log = (s: string) => console.error(`[profile] ${s}`);

/** Self time per frame, as a share of the non-idle samples. */
const topFramesOf = (file: string, n: number): string[] =>
  topFrames(selfShares(file), 0, n).map((f) => `| ${(f.share * 100).toFixed(1)}% | \`${f.frame}\` |`);

async function profile(t: Target, profDir: string, traceFile: string): Promise<void> {
  await throughput(dir, t, 'json', 2);
  const ran: string[] = [];
  for (const mode of ['json', 'sse'] as const) {
    const l = await latency(t, mode, rate, seconds);
    ran.push(`${mode}@${rate}: p50 ${l.latencyUs.p50} µs, p99 ${l.latencyUs.p99} µs, errors ${l.errors}`);
  }
  const w = await throughput(dir, t, 'json', seconds);
  ran.push(`wrk json: ${Math.round(w.rps)} req/s, ${Math.round(w.cpuUsPerRequest)} µs CPU/req`);
  await new Promise((r) => setTimeout(r, 1_200)); // one more trace write
  const exited = new Promise((r) => t.child.once('exit', r));
  t.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  const prof = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  console.log(`\n## ${t.name}\n\n${ran.map((r) => `- ${r}`).join('\n')}\n`);
  if (prof) {
    console.log(
      `Top ${top} frames by self time (${join(profDir, prof)}):\n\n| self | frame |\n| ---: | --- |`,
    );
    console.log(topFramesOf(join(profDir, prof), top).join('\n'));
  } else console.log('no .cpuprofile was written');
  try {
    const trace = JSON.parse(readFileSync(traceFile, 'utf8')) as StallSummary;
    const d = trace.loopDelayMs;
    console.log(
      `\nEvent-loop delay (monitorEventLoopDelay): p50 ${d.p50?.toFixed(2)} ms, p99 ${d.p99?.toFixed(2)} ms, ` +
        `p99.9 ${d.p999?.toFixed(2)} ms, max ${d.max?.toFixed(1)} ms. Stalls > 5 ms: ${trace.stalls.n} ` +
        `(${trace.stalls.totalMs.toFixed(0)} ms in all).`,
    );
    const a = trace.attribution;
    console.log(
      `Of the stalled time (${a.stallMs.toFixed(0)} ms): GC covered ${a.gcMs.toFixed(0)} ms, SQLite transactions ` +
        `${a.sqliteMs.toFixed(0)} ms, stdout writes ${a.stdoutMs.toFixed(0)} ms, no traced event ${a.untracedMs.toFixed(0)} ms.` +
        '\n\n| what ran | calls | total ms | max ms | > 5 ms |\n| --- | ---: | ---: | ---: | ---: |',
    );
    for (const [kind, k] of Object.entries(trace.byKind))
      console.log(`| ${kind} | ${k.n} | ${k.totalMs.toFixed(0)} | ${k.maxMs.toFixed(1)} | ${k.over5ms} |`);
    const worst = [...trace.explained].sort((a, b) => b.ms - a.ms).slice(0, 10);
    console.log('\nWorst stalls and what overlapped them:');
    for (const s of worst) console.log(`- ${s.ms.toFixed(1)} ms: ${JSON.stringify(s.during)}`);
  } catch (err) {
    console.log(`no stall trace: ${(err as Error).message}`);
  }
}

try {
  const upstream = await startUpstream(dir);
  for (const id of (values.only ?? '').split(',')) {
    const profDir = join(outDir, id);
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
    const traceFile = join(profDir, 'stalls.json');
    let store: string | undefined;
    if (id === 'pg') {
      const db = await createTestDatabase('tollgate_profile');
      onCleanUp(() => db.drop());
      store = db.url;
    }
    log(`profiling tollgate (${id})`);
    const t = await startTollgate(dir, id, `tollgate (${id === 'pg' ? 'PostgreSQL' : 'SQLite'}, 10 keys)`, {
      upstreamPort: upstream.port,
      keys: 10,
      ...(store ? { store } : {}),
      nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir, '--import', resolve('bench/lib/stall-trace.mjs')],
      env: { STALL_TRACE_OUT: traceFile },
    });
    await profile(t, profDir, traceFile);
  }
} finally {
  await cleanUp();
}
process.exit(0);
