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
  body: Buffer;
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
 * Sends one request upstream and streams the response to the client through the tap, chunk by
 * chunk with backpressure. Resolves once the exchange is decided (see ForwardEnd); never rejects.
 */
export function forward(
  res: ServerResponse,
  f: ForwardRequest,
  agents: UpstreamAgents,
): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    let decided = false;
    let responseStarted = false;
    let reachedUpstream = false;
    let connected = false;
    let sent = false;
    let retried = false;
    let upRes: IncomingMessage | undefined;
    let upReq: http.ClientRequest | undefined;
    let tail: Buffer = EMPTY;
    let timedOut: 'idle' | 'total' | undefined;

    const decide = (end: ForwardEnd, error?: unknown) => {
      if (decided) return;
      decided = true;
      clearTimeout(idle);
      clearTimeout(cap);
      res.off('close', onClientClose);
      res.req.socket.off('close', onClientClose);
      resolve({
        end,
        responseStarted,
        reachedUpstream,
        delivered: connected && sent,
        ...(timedOut ? { timedOut } : {}),
        ...(upRes?.statusCode === undefined ? {} : { upstreamStatus: upRes.statusCode }),
        ...(error === undefined ? {} : { error }),
        finish() {
          if (responseStarted && !res.writableEnded && !res.destroyed)
            res.end(end === 'completed' && tail.length > 0 ? tail : undefined);
        },
      });
    };

    const abortUpstream = () => {
      upRes?.destroy();
      upReq?.destroy();
    };

    const onClientClose = () => {
      if (res.writableFinished) return;
      decide('client_gone');
      abortUpstream();
    };

    const timeOut = (kind: 'idle' | 'total') => () => {
      timedOut = kind;
      decide('timeout');
      abortUpstream();
    };
    // Runs while the gateway waits for the upstream; refreshed by every chunk, stopped under backpressure.
    let idle = setTimeout(timeOut('idle'), f.timeoutMs);
    const cap = setTimeout(timeOut('total'), maxExchangeMs(f.timeoutMs));

    const onResponse = (up: IncomingMessage) => {
      upRes = up;
      if (decided) {
        up.destroy();
        return;
      }
      idle.refresh();
      const { tap, rewrites } = f.tapFor(String(up.headers['content-type'] ?? ''));
      try {
        res.writeHead(
          up.statusCode ?? 502,
          clientResponseHeaders(up.headers, {
            keepLength: !rewrites,
            alreadySet: f.gatewayHeader,
            ...(f.redactHeader ? { redact: f.redactHeader } : {}),
          }),
        );
      } catch (err) {
        // A header Node refuses to send (an invalid status or value): a broken response, not a crash.
        decide('upstream_failed', err);
        up.destroy();
        return;
      }
      // A stream's headers go out now, not with its first event, so its client sees the response begin.
      if (rewrites || String(up.headers['content-type'] ?? '').includes('text/event-stream'))
        res.flushHeaders();
      responseStarted = true;
      // The chunks one socket read yields (a model's burst of events arrives as many small
      // chunked-encoding chunks) go to the client as one write at the end of that read, not one
      // write each: same bytes, same moment, a fraction of the syscalls.
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
          clearTimeout(idle);
          res.once('drain', () => {
            blocked = false;
            if (decided) return;
            clearTimeout(idle);
            idle = setTimeout(timeOut('idle'), f.timeoutMs);
            up.resume();
          });
        }
      };
      up.on('data', (chunk: Buffer) => {
        if (decided) return;
        if (!blocked) idle.refresh();
        const out = tap.transform(chunk);
        if (out.length === 0) return;
        if (pending.push(out) === 1) process.nextTick(writePending);
      });
      up.on('end', () => {
        if (decided) return;
        writePending();
        tail = tap.flush();
        decide('completed');
      });
      up.on('error', () => {
        // Reported through 'close' with `complete` false.
      });
      up.on('close', () => {
        if (decided || up.complete) return;
        decide('upstream_died');
        // Cut the client off rather than end cleanly: a clean end would pass a truncated answer as whole.
        res.destroy();
      });
    };

    const send = () => {
      const t = f.target;
      let req: http.ClientRequest;
      try {
        req = (t.https ? https : http).request({
          hostname: t.hostname,
          port: t.port,
          auth: t.auth,
          path: t.path,
          method: 'POST',
          headers: f.headers,
          agent: t.https ? agents.https : agents.http,
        });
      } catch (err) {
        // A path or header Node refuses to send: nothing left the gateway.
        decide('upstream_failed', err);
        return;
      }
      upReq = req;
      // A retry starts over: its first attempt never arrived (a reused socket reset while idle).
      connected = false;
      sent = false;
      req.on('socket', (socket) => {
        // A kept-alive socket from the pool is established (its TLS handshake long done).
        if (!socket.connecting) {
          reachedUpstream = true;
          connected = true;
          return;
        }
        socket.once('connect', () => (reachedUpstream = true));
        socket.once(t.https ? 'secureConnect' : 'connect', () => (connected = true));
      });
      req.on('finish', () => (sent = true));
      req.on('response', onResponse);
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (decided || upRes) return;
        // A kept-alive socket the upstream closed while idle: the request never arrived, so one
        // retry on a fresh connection is safe (Node's documented pattern for reusedSocket).
        if (!retried && req.reusedSocket && err.code === 'ECONNRESET') {
          retried = true;
          send();
          return;
        }
        decide('upstream_failed', err);
      });
      req.end(f.body);
    };

    if (clientGone(res)) {
      decide('client_gone');
      return;
    }
    res.on('close', onClientClose);
    // Queued behind the previous response, `res` hears of its client leaving only once it gets
    // the socket, which it never will: listen on the connection itself.
    if (!res.socket) res.req.socket.once('close', onClientClose);
    send();
  });
}
