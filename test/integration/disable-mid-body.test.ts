import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * A key disabled (Slack, admin API, dashboard, circuit breaker) while one of its requests was
 * still uploading its body: nothing was held for that request yet, and the kill switch answered
 * "clients using it now get 401 key_disabled", so it must not be forwarded once its body is in.
 */
describe('a key disabled while its request body is still arriving', () => {
  let upstream: FakeUpstream;
  let h: Harness;

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    h = await startGateway({
      yaml: standardYaml(upstream.baseUrl, {
        keys: `  leaky:
    hash: {{hash:leaky}}
    limits: { daily_usd: 5, max_parallel: 2 }
`,
      }),
    });
  });
  afterEach(async () => {
    await h.close();
    await upstream.close();
  });

  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });

  /** Starts a request and sends `first` bytes of its body; `rest()` sends the remainder. */
  function start(first: number) {
    const url = new URL(`${h.baseURL}/chat/completions`);
    let req: http.ClientRequest | undefined;
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            authorization: `Bearer ${h.keys.leaky}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
    });
    req?.write(body.slice(0, first));
    return { answer, rest: () => req?.end(body.slice(first)) };
  }

  it('is refused with key_disabled and never forwarded', async () => {
    const slow = start(10);
    await waitFor(() => h.gateway.inFlight() === 1);
    await h.store.setDisabled({
      key: 'leaky',
      reason: 'leaked',
      by: 'U01ALICE',
      source: 'slack',
      at: Date.now(),
    });
    await h.disables.refresh();
    slow.rest();
    const { status, text } = await slow.answer;
    expect(status).toBe(401);
    expect(JSON.parse(text).error.code).toBe('key_disabled');
    expect(upstream.received).toHaveLength(0);
  });
});
