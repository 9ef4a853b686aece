import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { canned, type FakeUpstream, sleep, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

let upstream: FakeUpstream;
let gw: Harness;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: standardYaml(upstream.baseUrl) });
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});

/** One chat completion request as raw HTTP/1.1, to write twice on one socket (pipelined). */
function rawRequest(): string {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  return [
    'POST /v1/chat/completions HTTP/1.1',
    'host: 127.0.0.1',
    `authorization: Bearer ${gw.keys['cursor-dev']}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/**
 * On a kept-alive connection Node gives a request's response its socket only once the response
 * before it has finished. A request that reached the upstream call before that (its store calls
 * were quick) was taken for one whose client had gone: never forwarded, never answered, and the
 * connection hung until the client gave up on it (the bench's JSON runs stalled for seconds).
 */
it('answers a request queued behind the previous response on the same connection', async () => {
  // The first answer takes long enough for the second request to get to the upstream call.
  upstream.next(async (req, res) => {
    await sleep(300);
    await canned(req, res);
  });
  const one = rawRequest();
  const port = Number(new URL(gw.url).port);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only this came back within 5 s:\n${got.slice(0, 2000)}`));
    }, 5000);
    socket.on('data', (d: Buffer) => {
      got += d.toString('utf8');
      // The second answer has begun: give its body a moment to follow.
      if ((got.match(/HTTP\/1\.1 /g) ?? []).length === 2) {
        clearTimeout(timer);
        setTimeout(() => {
          socket.end();
          resolve(got);
        }, 200);
      }
    });
    socket.on('error', reject);
    // Both at once: the second is parsed while the first is still at the upstream.
    socket.write(one + one);
  });
  expect(text.match(/HTTP\/1\.1 (\d+)/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
  const records = await gw.waitForRecords(2);
  expect(records.map((r) => r.status)).toEqual([200, 200]);
});

it('aborts the upstream of a queued request whose client left before its turn came', async () => {
  // Both upstream calls hang: the first holds the connection's one response slot.
  upstream.reset();
  upstream.next(async () => {});
  upstream.next(async () => {});
  const one = rawRequest();
  const port = Number(new URL(gw.url).port);
  gw.records.length = 0;
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(one + one);
  await upstream.waitForRequests(2);
  socket.destroy();
  // Both exchanges end as the client's: neither waits for the upstream's timeout.
  const records = await gw.waitForRecords(2);
  expect(records.map((r) => r.status)).toEqual([499, 499]);
  expect(upstream.abortedAt).toHaveLength(2);
});
