import { afterEach, describe, expect, it } from 'vitest';
import type { Config, KeyConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/log.js';
import { createDisableView, type DisableView } from '../../src/policy/disables.js';
import { createKillSwitch, type KillSwitch } from '../../src/policy/kill-switch.js';
import { createSlackNotifier, type SlackNotifier } from '../../src/slack/notifier.js';
import type { QueuedMessage, SendQueue } from '../../src/slack/send-queue.js';
import type { Store, UsageRecord } from '../../src/store/types.js';
import { holderOf, slackTestConfig } from '../helpers/slack-config.js';
import { storeBackends } from '../helpers/store-backends.js';

/**
 * The circuit breaker at the notifier, on both stores: two replicas seeing the same spike disable
 * the key once and announce it once; a failed disable is retried; no channel still disables.
 */

const HOUR = 3_600_000;

function record(ts: number, costUsd: number): UsageRecord {
  return {
    requestId: `req-${Math.random().toString(36).slice(2)}`,
    ts,
    day: new Date(ts).toISOString().slice(0, 10),
    key: 'cursor-dev',
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 100,
    outputTokens: 100,
    cachedTokens: 0,
    costUsd,
    latencyMs: 20,
    stream: false,
    userAgent: 'agent/1.0',
    ip: '10.0.0.1',
    configRevision: 'rev-1',
    usageSource: 'provider',
  };
}

function recordingQueue(): SendQueue & { sent: QueuedMessage[] } {
  const sent: QueuedMessage[] = [];
  return { sent, enqueue: (m) => void sent.push(m), idle: async () => {}, stop() {}, size: () => 0 };
}

describe.each(storeBackends())('the circuit breaker on $name', (backend) => {
  const cleanup: Array<() => void | Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
    await backend.destroy();
  });

  async function replica(
    store: Store,
    config: Config,
    wrap?: (k: KillSwitch) => KillSwitch,
    timing: { clock?: () => number; spikeCheckEveryMs?: number } = {},
  ) {
    const holder = holderOf(config);
    const disables: DisableView = await createDisableView({
      store,
      log: silentLogger(),
      refreshMs: 3_600_000,
    });
    const clock = timing.clock ?? (() => Date.now());
    const killSwitch = createKillSwitch({ store, disables, config: holder, clock });
    const queue = recordingQueue();
    const notifier: SlackNotifier = createSlackNotifier({
      store,
      config: holder,
      clock,
      log: silentLogger(),
      queue,
      killSwitch: wrap ? wrap(killSwitch) : killSwitch,
      options: { spikeCheckEveryMs: timing.spikeCheckEveryMs ?? 0, spikeSweepMs: 10 },
    });
    cleanup.push(
      () => notifier.stop(),
      () => disables.stop(),
    );
    const key = config.keys['cursor-dev'] as KeyConfig;
    const settled = async () => {
      notifier.requestSettled({ key, record: record(clock(), 0.01), spend: {} });
      await notifier.flush();
    };
    return { queue, disables, settled };
  }

  const breakerConfig = (channel?: null) =>
    slackTestConfig({ ...(channel === null ? { channel: null } : {}), alerts: { spikeAction: 'disable' } });

  it('disables the key once and announces it once when two replicas see the same spike', async () => {
    const a = await backend.create();
    const b = await backend.create();
    await a.settle(record(Date.now() - 600_000, 3), []);
    const one = await replica(a, breakerConfig());
    const two = await replica(b, breakerConfig());
    await Promise.all([one.settled(), two.settled()]);
    await one.settled();
    const announced = [...one.queue.sent, ...two.queue.sent];
    expect(announced).toHaveLength(1);
    expect(announced[0]!.text).toContain('Circuit breaker: tollgate disabled key `cursor-dev`');
    expect((await a.listDisabled()).get('cursor-dev')).toMatchObject({
      by: 'tollgate',
      source: 'circuit_breaker',
    });
    const disables = (await a.listAudit(10)).filter((e) => e.action === 'disable');
    expect(disables).toHaveLength(1);
  });

  it('disables the key without a channel to announce it in', async () => {
    const store = await backend.create();
    await store.settle(record(Date.now() - 600_000, 3), []);
    const r = await replica(store, breakerConfig(null));
    await r.settled();
    expect(r.queue.sent).toHaveLength(0);
    expect(r.disables.get('cursor-dev')).toMatchObject({ source: 'circuit_breaker' });
  });

  it('tries again at the next check when the store refused the disable', async () => {
    const store = await backend.create();
    await store.settle(record(Date.now() - 600_000, 3), []);
    let failures = 1;
    const r = await replica(store, breakerConfig(), (k) => ({
      ...k,
      disable: async (name, by) => {
        if (failures-- > 0) throw new Error('store down');
        return k.disable(name, by);
      },
    }));
    await r.settled();
    expect(r.disables.get('cursor-dev')).toBeUndefined();
    await r.settled();
    expect(r.disables.get('cursor-dev')).toMatchObject({ source: 'circuit_breaker' });
    expect(r.queue.sent).toHaveLength(1);
  });

  it('measures a settle that came inside the 30 s window once the window is over, with no later request', async () => {
    const store = await backend.create();
    let now = Date.now();
    const r = await replica(store, breakerConfig(), undefined, {
      clock: () => now,
      spikeCheckEveryMs: 30_000,
    });
    await store.settle(record(now, 0.4), []);
    await r.settled(); // measured: $0.40 is below $1
    now += 5_000;
    await store.settle(record(now, 0.8), []); // the crossing, inside the window: not measured yet
    await r.settled();
    expect(r.disables.get('cursor-dev')).toBeUndefined();
    now += 25_000;
    const deadline = Date.now() + 3_000;
    while (!r.disables.get('cursor-dev') && Date.now() < deadline)
      await new Promise((s) => setTimeout(s, 10));
    expect(r.disables.get('cursor-dev')).toMatchObject({ source: 'circuit_breaker' });
  });

  it('leaves a key that is usually this busy alone', async () => {
    const store = await backend.create();
    for (let h = 2; h <= 24; h++) await store.settle(record(Date.now() - h * HOUR, 2), []);
    await store.settle(record(Date.now() - 600_000, 3), []);
    const r = await replica(store, breakerConfig());
    await r.settled();
    expect(r.disables.get('cursor-dev')).toBeUndefined();
    expect(r.queue.sent).toHaveLength(0);
  });
});
