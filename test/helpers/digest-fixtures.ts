import type { Config, KeyConfig } from '../../src/config/types.js';
import type { UsageRecord } from '../../src/store/types.js';
import { dayOf } from '../../src/windows/calendar.js';

/** Hand-made configs and usage records for the digest tests. */

export function makeKey(name: string, over: Partial<KeyConfig> = {}): KeyConfig {
  return {
    name,
    hashes: [`sha256:${name.padEnd(64, '0').slice(0, 64)}`],
    notify: [],
    limits: {},
    disabled: false,
    tags: {},
    ...over,
  };
}

export function makeConfig(keys: KeyConfig[], over: Partial<Config> = {}): Config {
  return {
    version: 1,
    server: { timezone: 'Europe/Berlin' },
    upstreams: {},
    models: {},
    defaults: { limits: {} },
    keys: Object.fromEntries(keys.map((k) => [k.name, k])),
    slack: {
      channel: 'C0123ABCD',
      digest: '0 9 * * *',
      admins: [],
      alerts: {
        budgetThresholds: [0.8, 1],
        spikeFactor: 5,
        spikeMinUsd: 1,
        spikeAction: 'alert',
        expiryDays: [7, 1],
      },
    },
    ...over,
  };
}

let seq = 0;

/** One usage record at `ts`, its `day` computed with dayOf the way the gateway writes it. */
export function makeRecord(
  ts: number,
  key: string,
  over: Partial<UsageRecord> = {},
  timeZone = 'Europe/Berlin',
): UsageRecord {
  seq++;
  return {
    requestId: `req-${seq}`,
    ts,
    day: dayOf(ts, timeZone),
    key,
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 100,
    outputTokens: 50,
    cachedTokens: 0,
    costUsd: 0.01,
    latencyMs: 100,
    stream: false,
    userAgent: 'test',
    ip: '127.0.0.1',
    configRevision: 'rev',
    usageSource: 'provider',
    ...over,
  };
}
