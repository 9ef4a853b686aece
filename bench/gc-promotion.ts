/**
 * How much of every request the gateway promotes to V8's old generation, and what its GC costs:
 * each build (a `dist/` folder) runs under `node --trace-gc-nvp` (SQLite or PostgreSQL, 10 keys, pinned like
 * `npm run bench`), takes a warm-up and then `--requests` of one mode 50 at a time, and the log's
 * young collections are summed. `--full-gc-every-ms` also forces a full collection that often, as
 * a process that runs for hours gets anyway: a structure that promotes what passes through it once
 * it is old (src/in-flight.ts) shows only after one. Informational, not a test:
 *
 *   npm run build && npx tsx bench/gc-promotion.ts dist [OTHER/dist …] [--mode json] [--requests 20000]
 *        [--full-gc-every-ms 2500] [--store sqlite|pg (a database of its own on the machine's PostgreSQL)]
 *        [--heap-prof DIR]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createTestDatabase } from '../test/helpers/pg.js';
import type { Mode } from './lib/configs.js';
import { onCpuNs } from './lib/proc-stats.js';
import { cleanUp, onCleanUp } from './lib/procs.js';
import { sendBatch } from './lib/send-batch.js';
import { startTollgate, startUpstream } from './lib/targets.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mode: { type: 'string', default: 'json' },
    requests: { type: 'string', default: '20000' },
    'full-gc-every-ms': { type: 'string' },
    store: { type: 'string', default: 'sqlite' },
    'heap-prof': { type: 'string' },
  },
});
const mode = values.mode as Mode;
const requests = Number(values.requests);
// V8's sampling heap profile, written at exit: where what is still in the heap was allocated.
const heapProf = values['heap-prof']
  ? ['--heap-prof', '--heap-prof-interval=8192', `--heap-prof-dir=${values['heap-prof']}`]
  : [];
const dir = mkdtempSync(join(tmpdir(), 'tollgate-gc-'));
onCleanUp(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The main thread's young collections (`gc=s`) in a --trace-gc-nvp log, after its first `skip`:
 * every isolate writes there (the SQLite checkpointer's worker too), each line prefixed with
 * `[pid:isolate]`; the main thread's is the one that collects most.
 */
function scavenges(log: string, skip: number): { count: number; promoted: number; pauseMs: number } {
  const all = readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.includes(' gc=s '));
  const isolateOf = (l: string) => /^\[\d+:(0x[0-9a-f]+)\]/.exec(l)?.[1] ?? '';
  const counts = new Map<string, number>();
  for (const l of all) counts.set(isolateOf(l), (counts.get(isolateOf(l)) ?? 0) + 1);
  const main = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  const lines = all.filter((l) => isolateOf(l) === main);
  let promoted = 0;
  let pauseMs = 0;
  for (const l of lines.slice(skip)) {
    promoted += Number(/ promoted=(\d+)/.exec(l)?.[1] ?? 0);
    pauseMs += Number(/ pause=([\d.]+)/.exec(l)?.[1] ?? 0);
  }
  return { count: Math.max(0, lines.length - skip), promoted, pauseMs };
}

/** Stops `child` (SIGTERM, so a --heap-prof profile is written), SIGKILL after 10 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

try {
  const upstream = await startUpstream(dir);
  const every = values['full-gc-every-ms'];
  for (const [i, dist] of (positionals.length > 0 ? positionals : ['dist']).entries()) {
    let store: string | undefined;
    if (values.store === 'pg') {
      const db = await createTestDatabase('tollgate_gc');
      onCleanUp(() => db.drop());
      store = db.url;
    }
    const t = await startTollgate(dir, `gc${i}`, dist, {
      ...(store ? { store } : {}),
      upstreamPort: upstream.port,
      keys: 10,
      dist,
      nodeArgs: [
        '--trace-gc-nvp',
        ...heapProf,
        ...(every ? ['--import', resolve('bench/lib/force-gc.mjs')] : []),
      ],
      ...(every ? { env: { FORCE_GC_EVERY_MS: every } } : {}),
    });
    await sendBatch(t, mode, 5_000);
    const skip = scavenges(t.log as string, 0).count;
    const cpu = onCpuNs(t.child.pid as number);
    await sendBatch(t, mode, requests);
    const cpuUs = (onCpuNs(t.child.pid as number) - cpu) / requests / 1000;
    const s = scavenges(t.log as string, skip);
    console.log(
      `${dist} (${values.store}, ${mode}${every ? `, a full GC every ${every} ms` : ''}): promoted ${(s.promoted / requests / 1024).toFixed(2)} KB/request, ` +
        `${s.count} young collections (${s.count ? (s.pauseMs / s.count).toFixed(2) : '–'} ms each), CPU ${cpuUs.toFixed(0)} µs/request (all threads)`,
    );
    await stop(t.child);
  }
} finally {
  await cleanUp();
}
