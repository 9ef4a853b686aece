/** One measurement each: closed-loop throughput (wrk), open-loop latency, slow reader, reload. */
import { appendFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { cpuOf, pidTree, rssOf, run } from './procs.js';
import { type Percentiles, parseWrk } from './stats.js';
import { LOAD_CPU, type Target } from './targets.js';

export const PATH = '/v1/chat/completions';
export const BODIES = {
  json: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],"max_tokens":50}',
  sse: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],"stream":true}',
};
export type Mode = keyof typeof BODIES;

export interface Throughput {
  rps: number;
  cpuUsPerRequest: number;
  rssMb: number;
  errors: number;
}

function wrkScript(dir: string, t: Target, mode: Mode): string {
  const file = join(dir, `wrk-${t.port}-${mode}.lua`);
  const headers = { 'content-type': 'application/json', ...t.headers };
  writeFileSync(
    file,
    [
      'wrk.method = "POST"',
      ...Object.entries(headers).map(([k, v]) => `wrk.headers["${k}"] = "${v}"`),
      `wrk.body = '${BODIES[mode]}'`,
    ].join('\n'),
  );
  return file;
}

/** wrk with 50 connections on the load CPU; the target's CPU time and peak RSS over the run. */
export async function throughput(dir: string, t: Target, mode: Mode, seconds: number): Promise<Throughput> {
  const pids = pidTree(t.child.pid as number);
  const script = wrkScript(dir, t, mode);
  let peak = rssOf(pids);
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(pids));
  }, 200);
  const cpu0 = cpuOf(pids);
  const out = await run('taskset', [
    '-c',
    String(LOAD_CPU),
    'wrk',
    '-t1',
    '-c50',
    `-d${seconds}s`,
    '-s',
    script,
    `http://127.0.0.1:${t.port}${PATH}`,
  ]);
  const cpu = cpuOf(pids) - cpu0;
  clearInterval(sampler);
  const w = parseWrk(out);
  return { rps: w.rps, cpuUsPerRequest: cpu / Math.max(1, w.requests), rssMb: peak, errors: w.errors };
}

export interface Latency {
  latencyUs: Percentiles;
  firstEventUs: Percentiles;
  errors: number;
}

/** The open-loop generator at `rate` req/s, pinned to the load CPU. */
export async function latency(t: Target, mode: Mode, rate: number, seconds: number): Promise<Latency> {
  const args = {
    port: t.port,
    path: PATH,
    headers: { 'content-type': 'application/json', ...t.headers },
    body: BODIES[mode],
    rate,
    seconds,
    warmupSeconds: 1,
  };
  const out = await run('taskset', [
    '-c',
    String(LOAD_CPU),
    process.execPath,
    '--import',
    'tsx',
    'bench/suite/open-loop.ts',
    JSON.stringify(args),
  ]);
  return JSON.parse(out.trim().split('\n').pop() as string) as Latency;
}

/**
 * A client reading a 10 MiB stream at ~1 KiB/s through `t` for `seconds`: how much the target's
 * RSS grows, and how much of the stream the upstream could write (backpressure holds it back).
 */
export async function slowReader(
  t: Target,
  upstreamPort: number,
  seconds: number,
): Promise<{ rssGrowthMb: number; upstreamWrittenKb: number; clientReadKb: number }> {
  const pids = pidTree(t.child.pid as number);
  const before = rssOf(pids);
  const written0 = await upstreamWritten(upstreamPort);
  const body =
    '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],"stream":true,"bench_big_kb":10240}';
  const socket = net.connect(t.port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    `POST ${PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${Object.entries(t.headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.pause();
  let read = 0;
  let peak = before;
  const reader = setInterval(() => {
    const chunk = socket.read(102) as Buffer | null; // ~1 KiB/s at 10 reads a second
    if (chunk) read += chunk.length;
    peak = Math.max(peak, rssOf(pids));
  }, 100);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(reader);
  const written = (await upstreamWritten(upstreamPort)) - written0;
  socket.destroy();
  return { rssGrowthMb: peak - before, upstreamWrittenKb: written / 1024, clientReadKb: read / 1024 };
}

async function upstreamWritten(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/stats`);
  return ((await res.json()) as { bigBytesWritten: number }).bigBytesWritten;
}

/** ms from SIGHUP (after a change to keys.yaml) until /healthz serves the new revision. */
export async function reloadMs(t: Target, configFile: string, round: number): Promise<number> {
  const revision = async () =>
    ((await (await fetch(`http://127.0.0.1:${t.port}/healthz`)).json()) as { config: { revision: string } })
      .config.revision;
  const before = await revision();
  appendFileSync(configFile, `# bench reload ${round}\n`);
  const start = performance.now();
  t.child.kill('SIGHUP');
  while ((await revision()) === before) {
    if (performance.now() - start > 10_000) throw new Error('the reload did not land within 10 s');
    await new Promise((r) => setTimeout(r, 1));
  }
  return performance.now() - start;
}
