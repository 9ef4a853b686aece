import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSpikeMeter } from '../../../src/slack/spike-rule.js';
import { createSqliteStore } from '../../../src/store/sqlite.js';
import type { Store, UsageRecord } from '../../../src/store/types.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 11, 1, 10, 20);
const RULE = { factor: 5, minUsd: 1, action: 'alert' as const };

function record(ts: number, costUsd: number): UsageRecord {
  return {
    requestId: `r-${ts}-${Math.random()}`,
    ts,
    day: new Date(ts).toISOString().slice(0, 10),
    key: 'agent',
    model: 'm',
    upstream: 'u',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 1,
    outputTokens: 1,
    cachedTokens: 0,
    costUsd,
    latencyMs: 1,
    stream: false,
    userAgent: null,
    ip: null,
    configRevision: 'r',
    usageSource: 'provider',
  };
}

describe('the spike meter', () => {
  let store: Store;
  let reads: Array<[number, number]>;
  beforeEach(async () => {
    store = createSqliteStore(':memory:');
    await store.init();
    reads = [];
    const spendBetween = store.spendBetween.bind(store);
    store.spendBetween = (key, since, until) => {
      reads.push([since, until]);
      return spendBetween(key, since, until);
    };
  });
  afterEach(async () => {
    await store.close();
  });

  it('fires when the last hour is at least factor times the hourly average of the day before, and min_usd', async () => {
    // $0.48 over the day before: $0.02 an hour; the last hour $1.50 (75x).
    for (let h = 3; h <= 24; h += 3) await store.settle(record(NOW - h * HOUR, 0.06), []);
    await store.settle(record(NOW - 30 * 60_000, 1.5), []);
    const meter = createSpikeMeter(store);
    expect(await meter.measure('agent', NOW, RULE)).toEqual({
      lastHourUsd: 1.5,
      lastHourRequests: 1,
      hourlyAverageUsd: expect.closeTo(0.02, 9),
      rule: RULE,
    });
    expect(await meter.measure('agent', NOW, { ...RULE, factor: 100 })).toBeNull();
    expect(await meter.measure('agent', NOW, { ...RULE, minUsd: 2 })).toBeNull();
  });

  it('reads only the last hour while it is below min_usd', async () => {
    await store.settle(record(NOW - 60_000, 0.5), []);
    expect(await createSpikeMeter(store).measure('agent', NOW, RULE)).toBeNull();
    expect(reads).toEqual([[NOW - HOUR, NOW + 1]]);
  });

  it('reads each whole hour of the baseline once, then only the last hour and the hour that closed since', async () => {
    for (let h = 2; h <= 25; h++) await store.settle(record(NOW - h * HOUR, 1), []);
    await store.settle(record(NOW - 60_000, 3), []);
    const meter = createSpikeMeter(store);
    expect(await meter.measure('agent', NOW, RULE)).toBeNull(); // usually busy: $3 < 5 x ~$1
    expect(reads).toHaveLength(25);
    reads = [];
    await meter.measure('agent', NOW + 60_000, RULE);
    expect(reads).toHaveLength(1);
    await store.settle(record(NOW + 30 * 60_000, 3), []);
    reads = [];
    await meter.measure('agent', NOW + HOUR, RULE);
    expect(reads).toHaveLength(2);
  });
});
