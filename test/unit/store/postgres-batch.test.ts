import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import { createBatcher } from '../../../src/store/postgres/batch.js';

/** A batcher whose database calls wait until released, recording what was sent. */
function gatedBatcher(staleAfterMs?: number, stalled?: { steady: number; afterMs: number }) {
  const sent: number[][] = [];
  const gates: Array<() => void> = [];
  const gate = () => new Promise<void>((r) => gates.push(r));
  const call = createBatcher<number, number>({
    maxBatch: 10,
    maxInFlight: stalled ? 2 : 1,
    ...(staleAfterMs === undefined ? {} : { staleAfterMs }),
    ...(stalled ? { stalled } : {}),
    one: async (n) => {
      sent.push([n]);
      await gate();
      return n * 10;
    },
    many: async (ns) => {
      sent.push(ns);
      await gate();
      return ns.map((n) => n * 10);
    },
  });
  const openNext = () => gates.shift()?.();
  return { call, sent, openNext };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL group commit (batch.ts)', () => {
  it('does not send a call that waited in the queue past its deadline: its caller already gave up', async () => {
    const b = gatedBatcher(30);
    const first = b.call(1); // goes at once, holds the only slot
    const late = b.call(2).catch((e: unknown) => e);
    await sleep(60);
    const fresh = b.call(3);
    b.openNext(); // the first batch ends; the queue is looked at again
    expect(await first).toBe(10);
    const err = await late;
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('store_unavailable');
    await sleep(0);
    b.openNext();
    expect(await fresh).toBe(30);
    // Call 2 never reached the database: no reserve or slot held for a request already refused.
    expect(b.sent).toEqual([[1], [3]]);
  });

  it('keeps to `steady` batches while they answer, and sends the next beside one out past `afterMs`', async () => {
    const b = gatedBatcher(undefined, { steady: 1, afterMs: 50 });
    const first = b.call(1); // goes at once
    const second = b.call(2); // waits: one batch in flight is the steady state
    const third = b.call(3);
    await sleep(10);
    expect(b.sent).toEqual([[1]]);
    await sleep(80); // the first is now out past afterMs: the queued calls go beside it
    expect(b.sent).toEqual([[1], [2, 3]]);
    b.openNext();
    b.openNext();
    expect(await Promise.all([first, second, third])).toEqual([10, 20, 30]);
    // Answered promptly again: back to one at a time.
    const fourth = b.call(4);
    const fifth = b.call(5);
    await sleep(10);
    expect(b.sent).toEqual([[1], [2, 3], [4]]);
    b.openNext();
    await fourth;
    await sleep(0);
    b.openNext();
    expect(await fifth).toBe(50);
    expect(b.sent).toEqual([[1], [2, 3], [4], [5]]);
  });

  it('sends every call, however late, when no deadline is set (settles: a late usage record is still the record)', async () => {
    const b = gatedBatcher();
    const first = b.call(1);
    const queued = [b.call(2), b.call(3)];
    await sleep(40);
    b.openNext();
    await first;
    await sleep(0);
    b.openNext();
    expect(await Promise.all(queued)).toEqual([20, 30]);
    expect(b.sent).toEqual([[1], [2, 3]]);
  });
});
