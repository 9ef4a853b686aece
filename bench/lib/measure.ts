/**
 * The measurements besides wrk: open-loop latency (runs bench/lib/open-loop.ts pinned to the
 * load CPU), the slow reader (RSS growth while a client reads a big stream at ~1 KiB/s), and the
 * reload time of a keys file (change → /healthz serves the new revision).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { BODIES, bigBody, LOAD_CPU, type Mode, PATH } from './configs.js';
import type { OpenLoopArgs } from './open-loop.js';
import { pidTree, rssOf } from './proc-stats.js';
import { run } from './procs.js';
import type { Percentiles } from './stats.js';
import type { Target } from './targets.js';

export interface Latency {
  sent: number;
  done: number;
  errors: number;
  errorKinds: Record<string, number>;
  latencyUs: Percentiles;
  ttfbUs: Percentiles;
  /** How late the generator itself sent (actual − intended): its own precision. */
  sendLagUs: Percentiles;
}

/** The open-loop generator against `t` at `rate` req/s for `seconds` (after 1 s of warm-up). */
export async function latency(t: Target, mode: Mode, rate: number, seconds: number): Promise<Latency> {
  const args: OpenLoopArgs = {
    port: t.port,
    path: PATH,
    headers: { 'content-type': 'application/json', ...t.headers },
    body: BODIES[mode],
    rate,
    seconds,
    warmupSeconds: 1,
  };
  const out = await run(
    'taskset',
    [
      '-c',
      String(LOAD_CPU),
      process.execPath,
      '--import',
      'tsx',
      'bench/lib/open-loop.ts',
      JSON.stringify(args),
    ],
    (seconds + 30) * 1000,
  );
  return JSON.parse(out.trim().split('\n').pop() as string) as Latency;
}

export interface SlowReader {
  name: string;
  seconds: number;
  rssGrowthMb: number;
  upstreamWrittenKb: number;
  clientReadKb: number;
  /** The upstream wrote nothing in the window's second half: backpressure held it. */
  upstreamBlocked: boolean;
}

/**
 * A client asks `t` for a 10 MiB stream (the upstream pushes it as fast as its socket takes it)
 * and reads it at ~1 KiB/s for `seconds`: how much the target's RSS grows over its RSS before the
 * request, and how many bytes the upstream managed to write.
 */
export async function slowReader(t: Target, upstreamPort: number, seconds: number): Promise<SlowReader> {
  const id = `${t.id}-${Date.now()}`;
  const body = bigBody(10 * 1024, id);
  const pids = pidTree(t.child.pid as number);
  const before = rssOf(pids);
  const socket = net.connect(t.port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  socket.pause();
  socket.write(
    `POST ${PATH} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${Object.entries(t.headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  let read = 0;
  let peak = before;
  const reader = setInterval(() => {
    const chunk = socket.read(Math.min(socket.readableLength, 103)) as Buffer | null; // ~1 KiB/s
    if (chunk) read += chunk.length;
    peak = Math.max(peak, rssOf(pids));
  }, 100);
  try {
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
    const half = await upstreamWritten(upstreamPort, id);
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
    const written = await upstreamWritten(upstreamPort, id);
    return {
      name: t.name,
      seconds,
      rssGrowthMb: peak - before,
      upstreamWrittenKb: written / 1024,
      clientReadKb: read / 1024,
      upstreamBlocked: written === half && written < 10 * 1024 * 1024,
    };
  } finally {
    clearInterval(reader);
    socket.destroy();
  }
}

async function upstreamWritten(port: number, id: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/stats`);
  return ((await res.json()) as { streams: Record<string, number> }).streams[id] ?? 0;
}

/** /healthz's config revision. */
async function revision(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return ((await res.json()) as { config: { revision: string } }).config.revision;
}

/** ms from a change to keys.yaml (+ SIGHUP) until /healthz serves the new revision, polled every 1 ms. */
export async function reloadMs(t: Target, round: number): Promise<number> {
  const before = await revision(t.port);
  appendFileSync(t.configFile as string, `# bench reload ${round}\n`);
  const start = performance.now();
  t.child.kill('SIGHUP');
  while ((await revision(t.port)) === before) {
    if (performance.now() - start > 10_000) throw new Error('the reload did not land within 10 s');
    await new Promise((r) => setTimeout(r, 1));
  }
  return performance.now() - start;
}

/** A reload's times as the gateway logs them (`config reloaded`, docs/operations.md). */
export interface ReloadTimes {
  /** From the reload's start to its log line. */
  ms: number;
  /** Waiting behind another reload before it started. */
  queuedMs: number;
  /** Milliseconds per step: read, hash, parse, schema, normalize, rules, report, torn, revision, index. */
  phases: Record<string, number>;
}

/**
 * The last `n` SIGHUP reloads' own times from the gateway's log (its `config reloaded` lines), in
 * order, or undefined when the log has fewer (a build that logs no phases, or lines not flushed).
 */
export function reloadTimes(logFile: string, n: number): ReloadTimes[] | undefined {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  const found: ReloadTimes[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"config reloaded"')) continue;
    try {
      const j = JSON.parse(line) as Partial<ReloadTimes> & { msg?: string; reason?: string };
      if (j.msg !== 'config reloaded' || j.reason !== 'SIGHUP') continue;
      if (typeof j.ms !== 'number' || typeof j.queuedMs !== 'number' || !j.phases) continue;
      found.push({ ms: j.ms, queuedMs: j.queuedMs, phases: j.phases });
    } catch {}
  }
  return found.length >= n ? found.slice(-n) : undefined;
}
