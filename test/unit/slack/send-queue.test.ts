import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { createSendQueue, type SlackMessage } from '../../../src/slack/send-queue.js';

const msg = (text: string) => ({ channel: 'C1', text });

describe('Slack send queue', () => {
  it('sends messages in order, one at a time', async () => {
    const sent: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const q = createSendQueue({
      log: silentLogger(),
      send: async (m) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 2));
        sent.push(m.text);
        inFlight--;
      },
    });
    for (const t of ['a', 'b', 'c']) q.enqueue(msg(t));
    await q.idle();
    expect(sent).toEqual(['a', 'b', 'c']);
    expect(maxInFlight).toBe(1);
  });

  it('retries a failed send and gives up after the last attempt, calling the give-up hook once', async () => {
    let attempts = 0;
    let gaveUp = 0;
    const q = createSendQueue({
      log: silentLogger(),
      baseDelayMs: 1,
      maxAttempts: 3,
      send: async () => {
        attempts++;
        throw new Error('slack said 500');
      },
    });
    q.enqueue({ ...msg('x'), onGiveUp: () => gaveUp++ });
    await q.idle();
    expect(attempts).toBe(3);
    expect(gaveUp).toBe(1);
  });

  it('treats a send that never answers as failed and moves on', async () => {
    const sent: string[] = [];
    const q = createSendQueue({
      log: silentLogger(),
      attemptTimeoutMs: 20,
      maxAttempts: 1,
      send: (m: SlackMessage) =>
        m.text === 'hang' ? new Promise<void>(() => {}) : Promise.resolve(void sent.push(m.text)),
    });
    q.enqueue(msg('hang'));
    q.enqueue(msg('after'));
    await q.idle();
    expect(sent).toEqual(['after']);
  });

  it('drops the oldest waiting message when full instead of growing', async () => {
    let release!: () => void;
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    const sent: string[] = [];
    const dropped: string[] = [];
    const q = createSendQueue({
      log: silentLogger(),
      maxSize: 3,
      send: async (m) => {
        await blocked;
        sent.push(m.text);
      },
    });
    for (const t of ['1', '2', '3', '4', '5']) q.enqueue({ ...msg(t), onGiveUp: () => dropped.push(t) });
    expect(q.size()).toBe(3);
    release();
    await q.idle();
    // '1' was in flight and is kept; '2' and '3' were the oldest waiting.
    expect(sent).toEqual(['1', '4', '5']);
    expect(dropped).toEqual(['2', '3']);
  });

  it('stops retrying when stopped', async () => {
    let attempts = 0;
    const q = createSendQueue({
      log: silentLogger(),
      baseDelayMs: 60_000,
      send: async () => {
        attempts++;
        throw new Error('down');
      },
    });
    q.enqueue(msg('x'));
    await new Promise((r) => setTimeout(r, 10));
    q.stop();
    await q.idle();
    expect(attempts).toBe(1);
    expect(q.size()).toBe(0);
  });
});
