import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, manualClock, standardYaml, startGateway } from '../helpers/gateway-harness.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * A reservation's lease runs from when it is made, not from when the request arrived: a request
 * whose body took long to arrive still has its whole exchange before the sweep may charge it
 * (docs/operations.md#a-settle-after-the-sweep).
 */
const T0 = Date.UTC(2026, 10, 26, 11, 0, 0);
const MINUTE = 60_000;

describe('a reservation of a request whose body arrived slowly', () => {
  let upstream: FakeUpstream;
  let h: Harness;
  const clock = manualClock(T0);

  beforeEach(async () => {
    clock.set(T0);
    upstream = await startFakeUpstream();
    h = await startGateway({ yaml: standardYaml(upstream.baseUrl), clock });
  });
  afterEach(async () => {
    await h.close();
    await upstream.close();
  });

  it('is not swept while its exchange may still run, and is charged its metered cost once', async () => {
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const canned = upstream.next.bind(upstream);
    canned(async (_req, res) => {
      await answered;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'c',
          object: 'chat.completion',
          model: 'gpt-4o-mini',
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 },
        }),
      );
    });
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    const url = new URL(`${h.baseURL}/chat/completions`);
    let req: http.ClientRequest | undefined;
    const done = new Promise<number>((resolve, reject) => {
      req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            authorization: `Bearer ${h.keys['cursor-dev']}`,
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
    // Half the body; once the gateway serves the request, ten minutes (of its clock) before the rest.
    req?.write(body.slice(0, 10));
    await waitFor(() => h.gateway.inFlight() === 1);
    clock.advance(10 * MINUTE);
    req?.end(body.slice(10));
    await upstream.waitForRequests(1);
    // Past the end of a lease counted from the request's arrival (timeout_ms 5000: an exchange
    // may run 305 s, plus a minute), well inside one counted from its reservation.
    expect(await h.store.recoverReservations(T0 + 10 * MINUTE + 1)).toBe(0);
    answer();
    expect(await done).toBe(200);
    const [record] = await h.waitForRecords(1);
    // The request arrived at T0: its windows and its record are of then.
    expect(record?.ts).toBe(T0);
    // 1000 input at $0.15/M and 500 output at $0.60/M.
    expect(record?.costUsd).toBeCloseTo(0.00045, 12);
    const spend = await h.store.getSpend('cursor-dev', [`d:2026-11-26`]);
    expect(spend['d:2026-11-26']?.spentUsd).toBeCloseTo(0.00045, 12);
    expect(spend['d:2026-11-26']?.reservedUsd).toBe(0);
    expect(await h.store.recentUsage('cursor-dev', 10)).toHaveLength(1);
  });
});
