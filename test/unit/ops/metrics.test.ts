import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import type { UsageRecord } from '../../../src/store/types.js';

describe('budget gauges', () => {
  it('drops a removed key and ignores a late setBudgetUse for it (a request admitted before the reload)', async () => {
    const m = createMetrics();
    m.setBudgetUse('cursor-dev', 'daily', 0.5);
    m.setBudgetUse('ci-bot', 'daily', 0.25);
    m.retainKeys(new Set(['ci-bot']));
    m.setBudgetUse('cursor-dev', 'daily', 0.6);
    m.setBudgetUse('ci-bot', 'daily', 0.3);
    const text = await m.registry.metrics();
    expect(text).not.toContain('key="cursor-dev"');
    expect(text).toContain('tollgate_budget_use_ratio{key="ci-bot",window="daily"} 0.3');
    m.retainKeys(new Set(['ci-bot', 'cursor-dev']));
    m.setBudgetUse('cursor-dev', 'daily', 0.7);
    expect(await m.registry.metrics()).toContain(
      'tollgate_budget_use_ratio{key="cursor-dev",window="daily"} 0.7',
    );
  });
});

describe('label values', () => {
  const record = (key: string, model: string | null, status: number): UsageRecord => ({
    requestId: 'r',
    ts: 0,
    day: '2026-12-06',
    key,
    model,
    upstream: null,
    route: '/v1/chat/completions',
    status,
    errorCode: null,
    inputTokens: 10,
    outputTokens: 5,
    cachedTokens: 1,
    cacheWriteTokens: 1,
    costUsd: 0.001,
    latencyMs: 5,
    stream: false,
    userAgent: null,
    ip: null,
    configRevision: 'r1',
    usageSource: 'provider',
  });
  const config = (models: Record<string, boolean>) =>
    ({
      keys: { 'cursor-dev': {}, 'ci-bot': {} },
      models: Object.fromEntries(Object.entries(models).map(([name, glob]) => [name, { name, glob }])),
      groups: {},
    }) as unknown as Pick<Config, 'keys' | 'models' | 'groups'>;
  const series = async (m: ReturnType<typeof createMetrics>) =>
    (await m.registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('tollgate_') && !l.includes('_bucket{'));

  it('keeps the series count bounded by the config, whatever keys, model names and statuses arrive', async () => {
    const m = createMetrics();
    m.retainConfig(config({ small: false, 'claude-*': true }));
    const random = () => Math.random().toString(36).slice(2);
    const statuses = [200, 400, 401, 404, 429, 500, 502, 999];
    const observeMany = () => {
      for (let i = 0; i < 5_000; i++) {
        const key = i % 4 === 0 ? random() : i % 4 === 1 ? '' : 'cursor-dev';
        const model =
          i % 5 === 0 ? 'small' : i % 5 === 1 ? `claude-${random()}` : i % 5 === 2 ? null : random();
        m.observeRequest(record(key, model, statuses[i % statuses.length] as number));
      }
    };
    observeMany();
    const lines = await series(m);
    const text = lines.join('\n');
    // keys: cursor-dev + unknown; models: small, claude-*, other; 8 statuses (999 → other).
    const requestSeries = lines.filter((l) => l.startsWith('tollgate_requests_total{'));
    expect(requestSeries.length).toBeLessThanOrEqual(2 * 3 * 8);
    expect(new Set([...text.matchAll(/model="([^"]*)"/g)].map((x) => x[1]))).toEqual(
      new Set(['small', 'claude-*', 'other']),
    );
    expect(new Set([...text.matchAll(/key="([^"]*)"/g)].map((x) => x[1]))).toEqual(
      new Set(['cursor-dev', 'unknown']),
    );
    expect(text).toContain('status="other"');
    const before = lines.length;
    // The same mix again with fresh random names and keys: not one series more.
    observeMany();
    expect((await series(m)).length).toBe(before);
  });

  it('follows a reload: a removed glob entry counts as other, a new key under its own name', async () => {
    const m = createMetrics();
    m.retainConfig(config({ 'claude-*': true }));
    m.observeRequest(record('new-key', 'claude-sonnet-4-5', 200));
    m.retainConfig({ ...config({ small: false }), keys: { 'new-key': {} } } as never);
    m.observeRequest(record('new-key', 'claude-sonnet-4-5', 200));
    const text = (await series(m)).join('\n');
    expect(text).toContain('tollgate_requests_total{key="unknown",model="claude-*",status="200"} 1');
    expect(text).toContain('tollgate_requests_total{key="new-key",model="other",status="200"} 1');
  });
});
