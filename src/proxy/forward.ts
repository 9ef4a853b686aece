import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import { EMPTY, type ResponseTap } from '../metering/tap.js';
import { clientResponseHeaders } from './headers.js';
import type { UpstreamTarget } from './upstream-url.js';

/*
 * Why node:http and not http-proxy-middleware: the gateway must rewrite the request body (usage
 * and output caps), rewrite an SSE response on the fly (hide the usage chunk), abort the upstream
 * when the client leaves before headers, time the upstream out (idle, and in total, below) and
 * write the usage record before the response ends. With hpm each of these is a workaround
 * (fixRequestBody, selfHandleResponse plus our own piping, a close hook on proxyReq, our own
 * on.error), so what remains of it is one `http.request`; calling that directly keeps every step
 * visible and the hot path lean. Node 20's pitfalls are handled here: keep-alive agents for http and https,
 * the body re-sent with its length, hop-by-hop headers dropped, `accept-encoding: identity`.
 *
 * undici's Pool was measured as the alternative (2026-12, one JSON exchange with 50 in flight
 * against a local upstream): about 14 µs of CPU against http.request's 23. That is ~5% of what a
 * proxied request costs here (store, metering, log line): not yet worth redoing the timeouts,
 * backpressure and the reused-socket retry below on another client.
 */

/**
 * How timeout_ms is measured: it bounds the upstream's silence, not the exchange. The timer runs
 * while the gateway waits for the upstream (connect, headers, the next bytes) and stops while the
 * gateway itself holds the upstream back because the client reads slowly (backpressure): a
 * healthy stream to a slow reader is not cut, an upstream that goes quiet for timeout_ms is.
 * The whole exchange is still capped (three times timeout_ms, and at least five minutes more
 * than it), so that no request outlives its budget reservation's lease: stages/reserve.ts sets the
 * lease from the same bound. A trickling upstream or a stalled reader ends there.
 */
export function maxExchangeMs(timeoutMs: number): number {
  return Math.max(3 * timeoutMs, timeoutMs + 300_000);
}

export interface UpstreamAgents {
  http: http.Agent;
  https: https.Agent;
}

/**
 * Keep-alive connections to the upstreams; without them every request pays a TCP (and TLS)
 * handshake. An idle socket is dropped after 4 s, before a server with Node's default 5 s
 * keep-alive closes it under a request we are sending (`timeout` on an Agent closes only idle
 * sockets: a long generation on an active one is unaffected).
 */
export function createAgents(): UpstreamAgents {
  const options = { keepAlive: true, maxSockets: 256, timeout: 4_000 };
  return { http: new http.Agent(options), https: new https.Agent(options) };
}

export interface ForwardRequest {
  target: UpstreamTarget;
  headers: OutgoingHttpHeaders;
  /**
   * One buffer, or a held upload's chunks as they arrived (sent one by one, not copied into one);
   * forward empties a chunk's slot once the upstream socket took it (writeHeld).
   */
  body: Buffer | Buffer[];
  timeoutMs: number;
  /** The tap for the response, chosen once its content type is known; `rewrites` when bytes may change. */
  tapFor(contentType: string): { tap: ResponseTap; rewrites: boolean };
  /** True for response headers the gateway set itself, which the upstream's must not replace. */
  gatewayHeader(name: string): boolean;
  /** Masks secrets in a response header's value (see clientResponseHeaders). */
  redactHeader?: (value: string) => string;
}

export type ForwardEnd =
  /** The upstream body ended: the client response is still open until `finish()`. */
  | 'completed'
  /** No usable response: unreachable, refused, reset before headers. Nothing was sent to the client. */
  | 'upstream_failed'
  /** The upstream broke off mid-body: the client response was cut off at once. */
  | 'upstream_died'
  /**
   * The upstream sent nothing for timeoutMs, or the exchange passed maxExchangeMs; if a
   * response started, `finish()` ends it.
   */
  | 'timeout'
  /** The client left; the upstream request was aborted. */
  | 'client_gone';

export interface ForwardOutcome {
  end: ForwardEnd;
  upstreamStatus?: number;
  /** Whether the response status and headers went to the client. */
  responseStarted: boolean;
  /** Whether the request reached the upstream, which may then bill for it. */
  reachedUpstream: boolean;
  /**
   * Whether the whole request was handed to an established connection (after TLS, for https):
   * only then can the upstream have started generating. A connection that opens and is cut
   * before that reached the upstream but carried no request.
   */
  delivered: boolean;
  /** For 'timeout': the upstream went quiet (`idle`) or the whole exchange ran too long (`total`). */
  timedOut?: 'idle' | 'total';
  error?: unknown;
  /** Ends an open client response with the bytes the tap held back. Call after the usage record is written. */
  finish(): void;
}

function clientGone(res: ServerResponse): boolean {
  // A response queued behind the previous one on a kept-alive connection has no socket yet
  // (Node assigns it when that one finishes): its client is there, on the request's socket.
  const socket = res.socket ?? res.req.socket;
  return res.destroyed || socket.destroyed;
}

/**
 * One exchange in flight: the state its handlers (below) share, in one object per request where
 * one closure scope held it before.
 */
interface Exchange {
  readonly res: ServerResponse;
  readonly f: ForwardRequest;
  readonly agents: UpstreamAgents;
  readonly resolve: (outcome: ForwardOutcome) => void;
  /** Listened for on the response and, while it is queued, on the connection. */
  readonly onClientClose: () => void;
  decided: boolean;
  responseStarted: boolean;
  reachedUpstream: boolean;
  connected: boolean;
  sent: boolean;
  retried: boolean;
  upRes: IncomingMessage | undefined;
  upReq: http.ClientRequest | undefined;
  tail: Buffer;
  timedOut: 'idle' | 'total' | undefined;
  /** Runs while the gateway waits for the upstream; refreshed by every chunk, stopped under backpressure. */
  idle: NodeJS.Timeout;
  cap: NodeJS.Timeout;
}

/**
 * Sends one request upstream and streams the response to the client through the tap, chunk by
 * chunk with backpressure. Resolves once the exchange is decided (see ForwardEnd); never rejects.
 */
export function forward(
  res: ServerResponse,
  f: ForwardRequest,
  agents: UpstreamAgents,
): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    const ex: Exchange = {
      res,
      f,
      agents,
      resolve,
      onClientClose: () => {
        if (res.writableFinished) return;
        decide(ex, 'client_gone');
        abortUpstream(ex);
      },
      decided: false,
      responseStarted: false,
      reachedUpstream: false,
      connected: false,
      sent: false,
      retried: false,
      upRes: undefined,
      upReq: undefined,
      tail: EMPTY,
      timedOut: undefined,
      idle: setTimeout(() => timeOut(ex, 'idle'), f.timeoutMs),
      cap: setTimeout(() => timeOut(ex, 'total'), maxExchangeMs(f.timeoutMs)),
    };
    if (clientGone(res)) {
      decide(ex, 'client_gone');
      return;
    }
    res.on('close', ex.onClientClose);
    // Queued behind the previous response, `res` hears of its client leaving only once it gets
    // the socket, which it never will: listen on the connection itself.
    if (!res.socket) res.req.socket.once('close', ex.onClientClose);
    send(ex);
  });
}

/** Settles the exchange's outcome once; whatever happens later only cleans up. */
function decide(ex: Exchange, end: ForwardEnd, error?: unknown): void {
  if (ex.decided) return;
  ex.decided = true;
  clearTimeout(ex.idle);
  clearTimeout(ex.cap);
  const res = ex.res;
  res.off('close', ex.onClientClose);
  res.req.socket.off('close', ex.onClientClose);
  const statusCode = ex.upRes?.statusCode;
  ex.resolve({
    end,
    responseStarted: ex.responseStarted,
    reachedUpstream: ex.reachedUpstream,
    delivered: ex.connected && ex.sent,
    ...(ex.timedOut ? { timedOut: ex.timedOut } : {}),
    ...(statusCode === undefined ? {} : { upstreamStatus: statusCode }),
    ...(error === undefined ? {} : { error }),
    finish() {
      if (ex.responseStarted && !res.writableEnded && !res.destroyed)
        res.end(end === 'completed' && ex.tail.length > 0 ? ex.tail : undefined);
    },
  });
}

function abortUpstream(ex: Exchange): void {
  ex.upRes?.destroy();
  ex.upReq?.destroy();
}

function timeOut(ex: Exchange, kind: 'idle' | 'total'): void {
  ex.timedOut = kind;
  decide(ex, 'timeout');
  abortUpstream(ex);
}

function send(ex: Exchange): void {
  const t = ex.f.target;
  let req: http.ClientRequest;
  try {
    req = (t.https ? https : http).request({
      hostname: t.hostname,
      port: t.port,
      auth: t.auth,
      path: t.path,
      method: 'POST',
      headers: ex.f.headers,
      agent: t.https ? ex.agents.https : ex.agents.http,
    });
  } catch (err) {
    // A path or header Node refuses to send: nothing left the gateway.
    decide(ex, 'upstream_failed', err);
    return;
  }
  ex.upReq = req;
  // A retry starts over: its first attempt never arrived (a reused socket reset while idle).
  ex.connected = false;
  ex.sent = false;
  req.on('socket', (socket) => {
    // A kept-alive socket from the pool is established (its TLS handshake long done).
    if (!socket.connecting) {
      ex.reachedUpstream = true;
      ex.connected = true;
      return;
    }
    socket.once('connect', () => (ex.reachedUpstream = true));
    socket.once(t.https ? 'secureConnect' : 'connect', () => (ex.connected = true));
  });
  req.on('finish', () => (ex.sent = true));
  req.on('response', (up: IncomingMessage) => onResponse(ex, up));
  req.on('error', (err: NodeJS.ErrnoException) => {
    if (ex.decided || ex.upRes) return;
    // A kept-alive socket the upstream closed while idle: the request never arrived, so one
    // retry on a fresh connection is safe (Node's documented pattern for reusedSocket).
    if (!ex.retried && req.reusedSocket && err.code === 'ECONNRESET') {
      ex.retried = true;
      send(ex);
      return;
    }
    decide(ex, 'upstream_failed', err);
  });
  const body = ex.f.body;
  if (Buffer.isBuffer(body)) req.end(body);
  else writeHeld(req, body);
}

/**
 * A held upload, sent chunk by chunk as it arrived; each chunk is let go once the socket took it,
 * so an upload's memory shrinks as it is forwarded instead of lasting until its request ends. On a
 * kept-alive socket the chunks stay until the exchange ends: if the upstream had closed that
 * socket while idle, the whole body is sent again on a new one (the retry in `send`).
 */
function writeHeld(req: http.ClientRequest, chunks: Buffer[]): void {
  chunks.forEach((chunk, i) => {
    req.write(chunk, (err) => {
      if (!err && !req.reusedSocket) chunks[i] = EMPTY;
    });
  });
  req.end();
}

/** The upstream answered: its status and headers go to the client, then its body (relayBody). */
function onResponse(ex: Exchange, up: IncomingMessage): void {
  ex.upRes = up;
  if (ex.decided) {
    up.destroy();
    return;
  }
  ex.idle.refresh();
  const contentType = String(up.headers['content-type'] ?? '');
  const { tap, rewrites } = ex.f.tapFor(contentType);
  const res = ex.res;
  try {
    res.writeHead(
      up.statusCode ?? 502,
      clientResponseHeaders(up.headers, {
        keepLength: !rewrites,
        alreadySet: ex.f.gatewayHeader,
        ...(ex.f.redactHeader ? { redact: ex.f.redactHeader } : {}),
      }),
    );
  } catch (err) {
    // A header Node refuses to send (an invalid status or value): a broken response, not a crash.
    decide(ex, 'upstream_failed', err);
    up.destroy();
    return;
  }
  // A stream's headers go out now, not with its first event, so its client sees the response begin.
  if (rewrites || contentType.includes('text/event-stream')) res.flushHeaders();
  ex.responseStarted = true;
  relayBody(ex, up, tap);
}

/**
 * The upstream's body, through the tap, to the client, with backpressure. The chunks one socket
 * read yields (a model's burst of events arrives as many small chunked-encoding chunks) go to the
 * client as one write at the end of that read, not one write each: same bytes, same moment, a
 * fraction of the syscalls.
 */
function relayBody(ex: Exchange, up: IncomingMessage, tap: ResponseTap): void {
  const res = ex.res;
  let pending: Buffer[] = [];
  let blocked = false;
  const writePending = () => {
    if (pending.length === 0) return;
    const out = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
    pending = [];
    if (res.destroyed || res.writableEnded) return;
    if (!res.write(out) && !blocked) {
      // The client is slow, not the upstream: its silence from now on is ours, not timed.
      blocked = true;
      up.pause();
      clearTimeout(ex.idle);
      res.once('drain', () => {
        blocked = false;
        if (ex.decided) return;
        clearTimeout(ex.idle);
        ex.idle = setTimeout(() => timeOut(ex, 'idle'), ex.f.timeoutMs);
        up.resume();
      });
    }
  };
  up.on('data', (chunk: Buffer) => {
    if (ex.decided) return;
    if (!blocked) ex.idle.refresh();
    const out = tap.transform(chunk);
    if (out.length === 0) return;
    if (pending.push(out) === 1) process.nextTick(writePending);
  });
  up.on('end', () => {
    if (ex.decided) return;
    writePending();
    ex.tail = tap.flush();
    decide(ex, 'completed');
  });
  up.on('error', () => {
    // Reported through 'close' with `complete` false.
  });
  up.on('close', () => {
    if (ex.decided || up.complete) return;
    decide(ex, 'upstream_died');
    // Cut the client off rather than end cleanly: a clean end would pass a truncated answer as whole.
    res.destroy();
  });
}
