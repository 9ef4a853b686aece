import { afterEach, describe, expect, it } from 'vitest';
import { CANNED, type FakeUpstream, json, sleep, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

/*
 * The SQLite write worker's thread dies while reserves and settles are in flight (a crash of the
 * thread, not the process): those requests fail closed or complete, the next ones start a new
 * worker, and the books still balance (docs/operations.md, the write worker).
 */

let upstream: FakeUpstream | undefined;
let gw: Harness | undefined;

afterEach(async () => {
  await gw?.close();
  await upstream?.close();
  gw = undefined;
  upstream = undefined;
});

const post = (h: Harness) =>
  fetch(`${h.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.keys['cursor-dev']}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    }),
  });

async function outcome(res: Response): Promise<number | string> {
  const body = (await res.json()) as { error?: { code?: string } };
  return res.status === 200 ? 200 : `${res.status} ${body.error?.code}`;
}

describe('the SQLite write worker killed under traffic', () => {
  it('fails in-flight requests closed or completes them, restarts, and leaves spend equal to the records', async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: standardYaml(upstream.baseUrl), fileStore: true });
    const h = gw;
    const writer = h.writer;
    if (!writer?.terminateForTest) throw new Error('the harness has no write worker');
    const answer = json(200, {
      id: 'x',
      object: 'chat.completion',
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: CANNED.chat,
    });
    for (let i = 0; i < 60; i++) {
      upstream.next(async (req, res) => {
        await sleep(i % 10);
        await answer(req, res);
      });
    }
    // Settles of the first wave in flight, reserves of the second on their way, as the thread dies.
    const first = Array.from({ length: 20 }, () => post(h).then(outcome));
    await h.waitForRecords(3);
    const second = Array.from({ length: 20 }, () => post(h).then(outcome));
    await writer.terminateForTest();
    const outcomes = await Promise.all([...first, ...second]);
    expect(outcomes.filter((o) => o !== 200 && o !== '503 store_unavailable')).toEqual([]);
    expect(outcomes).toContain('503 store_unavailable'); // the thread did die under them

    // A write works again once the restart pause is over.
    for (;;) {
      const ok = await h.store.probeWrites?.(Date.now()).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await sleep(50);
    }
    const after = await Promise.all(Array.from({ length: 5 }, () => post(h).then(outcome)));
    expect(after).toEqual([200, 200, 200, 200, 200]);

    // Every answered request has its record (settles that failed are retried in the background).
    const answered = outcomes.filter((o) => o === 200).length + 5;
    await h.waitForRecords(answered);
    // A reservation whose reserve committed but whose answer was lost is swept as a restart does.
    await h.store.recoverReservations(Date.now(), true);
    const records = await h.store.spendBetween('cursor-dev', 0, Date.now() + 86_400_000);
    const day = h.records[0]?.day as string;
    const spend = await h.store.getSpend('cursor-dev', [`d:${day}`]);
    expect(spend[`d:${day}`]?.reservedUsd).toBe(0);
    expect(spend[`d:${day}`]?.spentUsd).toBeCloseTo(records.costUsd, 12);
    expect(records.requests).toBeGreaterThanOrEqual(answered);
  });
});
