/**
 * Open-loop load at a fixed rate, measured from each request's *intended* send time (so a slow
 * target cannot hide its queueing: no coordinated omission), with µs resolution. Raw keep-alive
 * sockets and pre-serialized requests keep the generator's own cost small. Runs as its own
 * process (pinned by the caller) and prints one JSON line:
 *   { sent, done, errors, latencyUs: {p50,p90,p99,max}, firstEventUs: {…} }
 * `firstEventUs` is the time to the first byte of the first SSE event (`data:`), or of the body.
 *
 *   node --import tsx bench/suite/open-loop.ts '{"port":8080,"path":"/v1/…","headers":{…},"body":"…","rate":200,"seconds":5,"warmupSeconds":1}'
 */
import net from 'node:net';
import { percentiles } from './stats.js';

interface Args {
  port: number;
  path: string;
  headers: Record<string, string>;
  body: string;
  rate: number;
  seconds: number;
  warmupSeconds: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const head = [
  `POST ${args.path} HTTP/1.1`,
  'host: 127.0.0.1',
  'connection: keep-alive',
  `content-length: ${Buffer.byteLength(args.body)}`,
  ...Object.entries(args.headers).map(([k, v]) => `${k}: ${v}`),
  '',
  '',
].join('\r\n');
const request = Buffer.from(head + args.body);

const now = () => Number(process.hrtime.bigint() / 1000n); // µs

interface Conn {
  socket: net.Socket;
  busy: boolean;
  buf: Buffer;
  intended: number;
  firstEvent: number;
}

const latencies: number[] = [];
const firstEvents: number[] = [];
let errors = 0;
let done = 0;
const idle: Conn[] = [];
const waiting: number[] = []; // intended times of requests with no free connection yet
const t0 = now() + 200_000;
const measureFrom = t0 + args.warmupSeconds * 1e6;
const total = Math.round(args.rate * (args.warmupSeconds + args.seconds));

/** Length of a complete HTTP/1.1 response at the start of `b`, or -1 if it is not all there. */
function responseLength(b: Buffer): number {
  const end = b.indexOf('\r\n\r\n');
  if (end < 0) return -1;
  const headers = b.subarray(0, end).toString('latin1').toLowerCase();
  const m = /content-length: *(\d+)/.exec(headers);
  if (m) {
    const len = end + 4 + Number(m[1]);
    return b.length >= len ? len : -1;
  }
  const term = b.indexOf('\r\n0\r\n\r\n', end);
  return term < 0 ? -1 : term + 7;
}

function onData(c: Conn, chunk: Buffer) {
  const t = now();
  c.buf = c.buf.length === 0 ? chunk : Buffer.concat([c.buf, chunk]);
  if (c.firstEvent === 0) {
    const end = c.buf.indexOf('\r\n\r\n');
    if (end >= 0) {
      const sse = c.buf.indexOf('text/event-stream') >= 0 && c.buf.indexOf('text/event-stream') < end;
      if (sse ? c.buf.indexOf('data:', end) >= 0 : c.buf.length > end + 4) c.firstEvent = t;
    }
  }
  const len = responseLength(c.buf);
  if (len < 0) return;
  if (!c.buf.subarray(9, 12).toString().startsWith('2')) errors++;
  if (c.intended >= measureFrom) {
    latencies.push(t - c.intended);
    firstEvents.push((c.firstEvent || t) - c.intended);
  }
  done++;
  c.buf = c.buf.subarray(len);
  c.busy = false;
  release(c);
}

function release(c: Conn) {
  const next = waiting.shift();
  if (next !== undefined) send(c, next);
  else idle.push(c);
}

function send(c: Conn, intended: number) {
  c.busy = true;
  c.intended = intended;
  c.firstEvent = 0;
  c.socket.write(request);
}

function open(intended: number) {
  const socket = net.connect(args.port, '127.0.0.1');
  socket.setNoDelay(true);
  const c: Conn = { socket, busy: true, buf: Buffer.alloc(0), intended, firstEvent: 0 };
  socket.on('connect', () => send(c, intended));
  socket.on('data', (d) => onData(c, d));
  socket.on('error', () => {
    errors++;
  });
  socket.on('close', () => {
    if (c.busy) {
      errors++;
      done++;
    }
  });
}

let sent = 0;
function tick() {
  const t = now();
  while (sent < total) {
    const intended = t0 + Math.round((sent * 1e6) / args.rate);
    if (intended > t) break;
    sent++;
    const c = idle.pop();
    if (c) send(c, intended);
    else if (waiting.length + idle.length < 256) open(intended);
    else waiting.push(intended);
  }
  if (sent < total) {
    const next = t0 + Math.round((sent * 1e6) / args.rate);
    // Sleep until ~1 ms before the next send, then spin on setImmediate for precision.
    if (next - now() > 1_500) setTimeout(tick, Math.floor((next - now()) / 1000) - 1);
    else setImmediate(tick);
  }
}
for (let i = 0; i < Math.min(16, total); i++) open(t0 - 1);
setTimeout(tick, 150);

const deadline = setTimeout(finish, (args.warmupSeconds + args.seconds) * 1000 + 5_000);
const poll = setInterval(() => {
  if (sent === total && done >= total + 16) finish();
}, 50);

function finish() {
  clearTimeout(deadline);
  clearInterval(poll);
  process.stdout.write(
    `${JSON.stringify({ sent, done, errors, latencyUs: percentiles(latencies), firstEventUs: percentiles(firstEvents) })}\n`,
  );
  process.exit(0);
}
