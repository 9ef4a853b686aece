import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, manualClock, standardYaml, startGateway } from '../helpers/gateway-harness.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * A request's rate slot counts in the minute it is taken (at reserve), not the minute its first
 * byte arrived: a request whose body took ten minutes to upload would otherwise be counted in a
 * minute already past, and never against the limit (docs/postgres.md#rate-leases).
 */
const T0 = Date.UTC(2026, 10, 26, 11, 0, 0);
const MINUTE = 60_000;

describe('the rate slot of a request whose body arrived slowly', () => {
  let upstream: FakeUpstream;
  let h: Harness;
  const clock = manualClock(T0);

  beforeEach(async () => {
    clock.set(T0);
    upstream = await startFakeUpstream();
    h = await startGateway({
      yaml: standardYaml(upstream.baseUrl, {
        keys: `  one-rpm:
    hash: {{hash:one-rpm}}
    limits: { rpm: 1 }
`,
      }),
      clock,
    });
  });
  afterEach(async () => {
    await h.close();
    await upstream.close();
  });

  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
  /** Starts a request and sends `first` of its body; `rest()` sends the remainder. */
  function start(first: number) {
    const url = new URL(`${h.baseURL}/chat/completions`);
    let req: http.ClientRequest | undefined;
    const status = new Promise<number>((resolve, reject) => {
      req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            authorization: `Bearer ${h.keys['one-rpm']}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
    });
    req?.write(body.slice(0, first));
    return { status, rest: () => req?.end(body.slice(first)) };
  }

  it('is counted in the minute it is admitted: the next request of an rpm-1 key that minute is refused', async () => {
    const slow = start(10);
    await waitFor(() => h.gateway.inFlight() === 1);
    clock.advance(10 * MINUTE);
    slow.rest();
    expect(await slow.status).toBe(200);
    const [record] = await h.waitForRecords(1);
    // Its usage record is of its arrival; its rpm slot is of now.
    expect(record?.ts).toBe(T0);
    clock.advance(1_000);
    const fast = start(body.length);
    fast.rest();
    expect(await fast.status).toBe(429);
    // A minute after its admission the slot has aged out.
    clock.advance(MINUTE);
    const later = start(body.length);
    later.rest();
    expect(await later.status).toBe(200);
  });
});
