import { afterEach, describe, expect, it } from 'vitest';
import type { Notifier } from '../../src/notifier.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import {
  type FakeUpstream,
  hang,
  resetNow,
  sleep,
  sse,
  startFakeUpstream,
} from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

let upstream: FakeUpstream | undefined;
let gw: Harness | undefined;

afterEach(async () => {
  await gw?.close();
  await upstream?.close();
  gw = undefined;
  upstream = undefined;
});

const chat = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...extra });

function post(h: Harness, body: string, key = 'cursor-dev', signal?: AbortSignal) {
  return fetch(`${h.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.keys[key]}`, 'content-type': 'application/json' },
    body,
    ...(signal ? { signal } : {}),
  });
}

function recordingNotifier() {
  const settled: Array<Parameters<Notifier['requestSettled']>[0]> = [];
  const refused: Array<Parameters<Notifier['keyRefused']>[0]> = [];
  const notifier: Notifier = {
    configReloaded() {},
    configReloadFailed() {},
    requestSettled: (e) => settled.push(e),
    keyRefused: (e) => refused.push(e),
  };
  return { notifier, settled, refused };
}

describe('the gateway around each request', () => {
  it('writes the usage record before the client sees the end of the response', async () => {
    upstream = await startFakeUpstream();
    const store = createSqliteStore(':memory:');
    await store.init();
    const settle = store.settle.bind(store);
    // A slow disk: if the response ended first, the client would finish before the record exists.
    store.settle = async (r, p) => {
      await sleep(150);
      return settle(r, p);
    };
    gw = await startGateway({ yaml: standardYaml(upstream.baseUrl), store });
    for (const body of [chat(), chat({ stream: true })]) {
      const before = gw.records.length;
      const res = await post(gw, body);
      await res.text();
      expect(gw.records.length).toBe(before + 1);
    }
    await store.close();
  });

  it('still answers the client when the store fails to settle, and writes the record once it recovers', async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: standardYaml(upstream.baseUrl) });
    const h = gw;
    const settle = h.store.settle;
    let failures = 4;
    h.store.settle = async (r, p) => {
      if (failures-- > 0) throw new Error('disk I/O error');
      return settle(r, p);
    };
    const res = await post(h, chat());
    expect(res.status).toBe(200);
    const records = await h.waitForRecords(1, 3_000);
    expect(records[0]?.status).toBe(200);
    expect(h.logLines.some((l) => l.includes('could not write a usage record'))).toBe(true);
  });

  it('tells the notifier about every settled request with the spend after it, and about refused disabled keys', async () => {
    upstream = await startFakeUpstream();
    const rec = recordingNotifier();
    gw = await startGateway({
      yaml: standardYaml(upstream.baseUrl, {
        keys: '  gone:\n    hash: {{hash:gone}}\n    disabled: true\n',
      }),
      notifier: rec.notifier,
    });
    expect((await post(gw, chat())).status).toBe(200);
    expect((await post(gw, chat(), 'gone')).status).toBe(401);
    for (let i = 0; i < 100 && rec.settled.length < 2; i++) await sleep(10);
    const first = rec.settled.find((e) => e.key.name === 'cursor-dev');
    expect(first?.spend.daily?.limitUsd).toBe(5);
    expect(first?.spend.daily?.spentUsd).toBeCloseTo(first?.record.costUsd ?? -1, 12);
    expect(first?.spend.monthly?.limitUsd).toBe(50);
    expect(rec.refused).toEqual([
      expect.objectContaining({ key: 'gone', code: 'key_disabled', ip: '127.0.0.1' }),
    ]);
  });

  it('counts requests by key, model and status in the metrics', async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: standardYaml(upstream.baseUrl) });
    await post(gw, chat());
    const text = await gw.deps.metrics.registry.metrics();
    expect(text).toContain('tollgate_requests_total{key="cursor-dev",model="gpt-4o-mini",status="200"} 1');
    expect(text).toContain('tollgate_budget_use_ratio{key="cursor-dev",window="daily"}');
    expect(text).not.toContain(gw.keys['cursor-dev']);
  });

  it('drains: waits for an in-flight stream to finish', async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: standardYaml(upstream.baseUrl) });
    upstream.next(
      sse([{ choices: [{ index: 0, delta: { content: 'a' } }] }, 'data: [DONE]\n\n'], { delayMs: 200 }),
    );
    const res = post(gw, chat({ stream: true }));
    await upstream.waitForRequests(1);
    expect(gw.gateway.inFlight()).toBe(1);
    await gw.gateway.drain(5_000);
    expect(gw.gateway.inFlight()).toBe(0);
    expect(await (await res).text()).toContain('[DONE]');
    expect(gw.records.map((r) => r.status)).toEqual([200]);
  });

  it('drains: cuts off what is still running after the grace period and meters it', async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: standardYaml(upstream.baseUrl) });
    upstream.next(hang);
    const res = post(gw, chat()).catch((e: unknown) => e);
    await upstream.waitForRequests(1);
    await gw.gateway.drain(100);
    expect(gw.gateway.inFlight()).toBe(0);
    await res;
    // A non-streamed request the provider goes on generating: charged its reservation.
    expect(gw.records.map((r) => [r.status, r.usageSource])).toEqual([[499, 'reserved']]);
  });

  it('releases the parallel slot of every request, failed ones included', async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({
      yaml: standardYaml(upstream.baseUrl, {
        keys: '  one:\n    hash: {{hash:one}}\n    limits: { max_parallel: 1 }\n',
      }),
    });
    upstream.next(resetNow);
    expect((await post(gw, chat(), 'one')).status).toBe(502);
    expect((await post(gw, chat(), 'one')).status).toBe(200);
    upstream.next(hang);
    const first = post(gw, chat(), 'one');
    await upstream.waitForRequests(3);
    const second = await post(gw, chat(), 'one');
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');
    void first.catch(() => {});
  });

  it('retries once on a fresh connection when the upstream resets a kept-alive one before answering', async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: standardYaml(upstream.baseUrl) });
    expect((await post(gw, chat())).status).toBe(200);
    upstream.next(resetNow);
    expect((await post(gw, chat())).status).toBe(200);
    expect(upstream.received).toHaveLength(3);
    expect(gw.records.map((r) => r.status)).toEqual([200, 200]);
  });

  it('answers 500 internal_error instead of crashing when no config can be read', async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: standardYaml(upstream.baseUrl) });
    const current = gw.deps.config.current;
    gw.deps.config.current = () => {
      throw new Error('config holder broke');
    };
    try {
      const res = await post(gw, chat());
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('internal_error');
      expect(res.headers.get('x-tollgate-request-id')).toBeTruthy();
    } finally {
      gw.deps.config.current = current;
    }
    expect((await post(gw, chat())).status).toBe(200);
  });
});
