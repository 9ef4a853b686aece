import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgents, forward } from '../../../src/proxy/forward.js';

/** A held upload's chunks, forwarded as they arrived and let go once the upstream's socket took them. */

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** An upstream that hashes what it receives and answers with the hash. */
function upstream(): Promise<number> {
  return listen(
    createServer((req, res) => {
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => hash.update(c));
      req.on('end', () => res.end(hash.digest('hex')));
    }),
  );
}

const passThrough = () => ({
  tap: { transform: (c: Buffer) => c, flush: () => Buffer.alloc(0) },
  rewrites: false,
});

describe('forwarding a held upload', () => {
  it('sends the chunks byte for byte and lets each go once sent on a new connection, but not on a kept-alive one', async () => {
    const upPort = await upstream();
    const agents = createAgents();
    const held: Buffer[][] = [];
    const gwPort = await listen(
      createServer((_req, res) => {
        const chunks = Array.from({ length: 8 }, (_, i) => Buffer.alloc(64 * 1024, i));
        held.push(chunks);
        void forward(
          res,
          {
            target: { https: false, hostname: '127.0.0.1', port: upPort, auth: undefined, path: '/' },
            headers: { 'content-length': String(8 * 64 * 1024) },
            body: chunks,
            timeoutMs: 5_000,
            tapFor: passThrough,
            gatewayHeader: () => false,
          },
          agents,
        ).then((outcome) => outcome.finish());
      }),
    );
    const call = () =>
      new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: gwPort, method: 'POST', path: '/' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
    const expected = createHash('sha256');
    for (let i = 0; i < 8; i++) expected.update(Buffer.alloc(64 * 1024, i));
    const digest = expected.digest('hex');

    expect(await call()).toBe(digest);
    // The first exchange opened its connection: every chunk was let go once written.
    expect(held[0]?.every((c) => c.length === 0)).toBe(true);

    expect(await call()).toBe(digest);
    // The second went on the kept-alive connection: its chunks stay for a resend on a new one.
    expect(held[1]?.every((c) => c.length === 64 * 1024)).toBe(true);
    agents.http.destroy();
  });

  it('sends the whole body again, byte for byte, when the upstream reset the kept-alive socket it reused', async () => {
    // The first request opens a connection and is answered (the socket is kept alive); the
    // upstream then resets that socket as the second request comes on it, before answering.
    const received: string[] = [];
    let requests = 0;
    const upPort = await listen(
      createServer((req, res) => {
        const n = ++requests;
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (c: Buffer) => {
          hash.update(c);
          bytes += c.length;
        });
        req.on('end', () => {
          if (n === 2) {
            req.socket.resetAndDestroy();
            return;
          }
          received.push(`${bytes}:${hash.digest('hex')}`);
          res.end('ok');
        });
      }),
    );
    const agents = createAgents();
    const held: Buffer[][] = [];
    const outcomes: string[] = [];
    const gwPort = await listen(
      createServer((_req, res) => {
        const chunks = Array.from({ length: 8 }, (_, i) => Buffer.alloc(64 * 1024, i + 1));
        held.push(chunks);
        void forward(
          res,
          {
            target: { https: false, hostname: '127.0.0.1', port: upPort, auth: undefined, path: '/' },
            headers: { 'content-length': String(8 * 64 * 1024) },
            body: chunks,
            timeoutMs: 5_000,
            tapFor: passThrough,
            gatewayHeader: () => false,
          },
          agents,
        ).then((outcome) => {
          outcomes.push(outcome.end);
          if (outcome.end === 'upstream_failed') {
            res.statusCode = 502;
            res.end();
            return;
          }
          outcome.finish();
        });
      }),
    );
    const call = () =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: gwPort, method: 'POST', path: '/' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    const expected = createHash('sha256');
    for (let i = 0; i < 8; i++) expected.update(Buffer.alloc(64 * 1024, i + 1));
    const whole = `${8 * 64 * 1024}:${expected.digest('hex')}`;

    expect(await call()).toBe(200);
    expect(await call()).toBe(200);
    // The second exchange's first attempt (on the reused socket) was reset; its retry on a new
    // connection delivered every byte of the body, in order.
    expect(requests).toBe(3);
    expect(received).toEqual([whole, whole]);
    expect(outcomes).toEqual(['completed', 'completed']);
    agents.http.destroy();
  });
});
