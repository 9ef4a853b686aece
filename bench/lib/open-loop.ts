/**
 * Open-loop load at a fixed rate, measured from each request's *intended* send time t0 + i/rate
 * (so a slow target cannot hide its queueing: no coordinated omission), with µs resolution from
 * process.hrtime. Raw keep-alive sockets (a pool, grown when no connection is free at a send time,
 * up to 256, then queued — still timed from the intended time), pre-serialized request bytes and
 * a minimal response parser (content-length or chunked) keep the generator's own cost small.
 * Latency runs to the response's last byte; TTFB to the first body byte, for SSE to the first byte
 * of the first event (`data:`). The first `warmupSeconds` are sent but not recorded.
 * Runs as its own process (pinned by the caller) and prints one JSON line on stdout:
 *   { sent, done, errors, errorKinds, latencyUs: {n,p50,p90,p99,max}, ttfbUs: {…}, sendLagUs: {…} }
 * `sendLagUs` is how late the generator itself sent (actual − intended): its own precision.
 *
 *   node --import tsx bench/lib/open-loop.ts '{"port":8080,"path":"/v1/…","headers":{…},"body":"…","rate":200,"seconds":5,"warmupSeconds":1}'
 */
import net from 'node:net';
import { percentiles } from './stats.js';

export interface OpenLoopArgs {
  port: number;
  path: string;
  headers: Record<string, string>;
  body: string;
  rate: number;
  seconds: number;
  warmupSeconds: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as OpenLoopArgs;
const request = Buffer.from(
  [
    `POST ${args.path} HTTP/1.1`,
    'host: 127.0.0.1',
    'connection: keep-alive',
    `content-length: ${Buffer.byteLength(args.body)}`,
    ...Object.entries(args.headers).map(([k, v]) => `${k}: ${v}`),
    '',
    args.body,
  ].join('\r\n'),
);

const POOL = 32;
const MAX_CONNECTIONS = 256;
const now = () => Number(process.hrtime.bigint() / 1000n); // µs

interface Conn {
  socket: net.Socket;
  busy: boolean;
  buf: Buffer;
  intended: number;
  firstByte: number;
}

const latencies: number[] = [];
const ttfbs: number[] = [];
const lags: number[] = []; // actual − intended send time: the generator's own precision
let errors = 0;
const errorKinds: Record<string, number> = {}; // 'status 429', 'closed', 'unanswered'
const fail = (kind: string, n = 1) => {
  errors += n;
  errorKinds[kind] = (errorKinds[kind] ?? 0) + n;
};
let done = 0;
let connections = 0;
const idle = new Set<Conn>();
const waiting: number[] = []; // intended send times of requests no connection was free for
const t0 = now() + 300_000;
const measureFrom = t0 + args.warmupSeconds * 1e6;
const total = Math.round(args.rate * (args.warmupSeconds + args.seconds));

/** Length of the complete HTTP/1.1 response at the start of `b`, or -1 if it is not all there. */
function responseLength(b: Buffer, headerEnd: number): number {
  const headers = b.subarray(0, headerEnd).toString('latin1').toLowerCase();
  const m = /\r\ncontent-length: *(\d+)/.exec(headers);
  if (m) {
    const len = headerEnd + 4 + Number(m[1]);
    return b.length >= len ? len : -1;
  }
  if (!headers.includes('chunked')) return -1; // read to close: not expected here
  const term = b.indexOf('\r\n0\r\n\r\n', headerEnd);
  return term < 0 ? -1 : term + 7;
}

function onData(c: Conn, chunk: Buffer) {
  const t = now();
  c.buf = c.buf.length === 0 ? chunk : Buffer.concat([c.buf, chunk]);
  for (;;) {
    const headerEnd = c.buf.indexOf('\r\n\r\n');
    if (headerEnd < 0) return;
    if (c.firstByte === 0) {
      const sse = c.buf.subarray(0, headerEnd).toString('latin1').toLowerCase().includes('text/event-stream');
      if (sse ? c.buf.indexOf('data:', headerEnd) >= 0 : c.buf.length > headerEnd + 4) c.firstByte = t;
    }
    const len = responseLength(c.buf, headerEnd);
    if (len < 0) return;
    if (c.buf[9] !== 0x32) fail(`status ${c.buf.subarray(9, 12).toString('latin1')}`); // not 2xx
    if (c.busy && c.intended >= measureFrom) {
      latencies.push(t - c.intended);
      ttfbs.push((c.firstByte || t) - c.intended);
    }
    done++;
    c.buf = c.buf.subarray(len);
    c.busy = false;
    release(c);
    if (c.buf.length === 0) return;
  }
}

function release(c: Conn) {
  const next = waiting.shift();
  if (next !== undefined) send(c, next);
  else idle.add(c);
}

function send(c: Conn, intended: number) {
  if (intended >= measureFrom) lags.push(now() - intended);
  c.busy = true;
  c.intended = intended;
  c.firstByte = 0;
  c.socket.write(request);
}

/** Opens a connection; once connected it sends a request meant for `intended`, or idles. */
function open(intended?: number) {
  connections++;
  const socket = net.connect(args.port, '127.0.0.1');
  socket.setNoDelay(true);
  const c: Conn = { socket, busy: intended !== undefined, buf: Buffer.alloc(0), intended: 0, firstByte: 0 };
  socket.on('connect', () => (intended === undefined ? release(c) : send(c, intended)));
  socket.on('data', (d) => onData(c, d));
  socket.on('error', () => {});
  socket.on('close', () => {
    connections--;
    idle.delete(c);
    if (c.busy) {
      fail('closed');
      done++;
    }
  });
}

const nap = new Int32Array(new SharedArrayBuffer(4));
let sent = 0;
function tick() {
  const t = now();
  while (sent < total) {
    const intended = t0 + Math.round((sent * 1e6) / args.rate);
    if (intended > t) break;
    sent++;
    const c = idle.values().next().value;
    if (c) {
      idle.delete(c);
      send(c, intended);
    } else if (connections < MAX_CONNECTIONS) open(intended);
    else waiting.push(intended);
  }
  if (sent < total) {
    const next = t0 + Math.round((sent * 1e6) / args.rate);
    // Sleep on a timer until ~1 ms before the next send, then poll with setImmediate (which also
    // lets the event loop read responses). While more than 150 µs remain, each poll first naps
    // ~50–100 µs in a futex: a pure spin would keep this process runnable and, under EEVDF, delay
    // the fake upstream sharing this CPU by up to a scheduler slice (ms of noise at p99).
    const wait = next - now();
    if (wait > 2_000) setTimeout(tick, Math.floor(wait / 1000) - 1);
    else {
      if (wait > 150) Atomics.wait(nap, 0, 0, 0.05);
      setImmediate(tick);
    }
  }
}

for (let i = 0; i < Math.min(POOL, total); i++) open();
setTimeout(tick, 250);

// Bounded: whatever has not answered 5 s after the last send counts as an error.
const deadline = setTimeout(finish, (args.warmupSeconds + args.seconds) * 1000 + 5_300);
const poll = setInterval(() => {
  if (sent === total && done >= total) finish();
}, 20);

function finish() {
  clearTimeout(deadline);
  clearInterval(poll);
  if (total > done) fail('unanswered', total - done);
  process.stdout.write(
    `${JSON.stringify({ sent, done, errors, errorKinds, latencyUs: percentiles(latencies), ttfbUs: percentiles(ttfbs), sendLagUs: percentiles(lags) })}\n`,
  );
  process.exit(0);
}
