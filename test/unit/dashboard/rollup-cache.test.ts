import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRollupCache } from '../../../src/dashboard/rollup-cache.js';
import { silentLogger } from '../../../src/log.js';
import { createSqliteStore } from '../../../src/store/sqlite.js';
import type { DailyTotalsQuery, Store, UsageRecord } from '../../../src/store/types.js';

const DAYS = ['2026-11-24', '2026-11-25', '2026-11-26'];
const NOON_26 = Date.UTC(2026, 10, 26, 12);

function usage(day: string, over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    requestId: `r-${Math.random().toString(36).slice(2)}`,
    ts: Date.parse(`${day}T10:00:00Z`),
    day,
    key: 'cursor-dev',
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 10,
    outputTokens: 5,
    cachedTokens: 0,
    costUsd: 1,
    latencyMs: 1,
    stream: false,
    userAgent: null,
    ip: null,
    configRevision: 'r',
    usageSource: 'provider',
    ...over,
  };
}

describe('the dashboard rollup cache', () => {
  let dir: string;
  let store: Store;
  let queries: DailyTotalsQuery[];
  let now: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-rollup-cache-'));
    const real = createSqliteStore(join(dir, 'db'));
    await real.init();
    queries = [];
    store = {
      ...real,
      dailyTotals: (q: DailyTotalsQuery) => {
        queries.push(q);
        return real.dailyTotals(q);
      },
    };
    for (const day of DAYS) await store.settle(usage(day), []);
    await store.settle(
      usage('2026-11-25', { key: 'open-webui', model: 'claude-sonnet-4-5', costUsd: 2 }),
      [],
    );
    now = NOON_26;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cache = () => createRollupCache({ store, clock: () => now, log: silentLogger() });

  it('reads past days once and today on every call, so a late request today is seen at once', async () => {
    const c = cache();
    const first = await c.summaries(DAYS, 'UTC');
    expect(first.map((s) => s.perKey.reduce((sum, r) => sum + r.costUsd, 0))).toEqual([1, 3, 1]);
    expect(first[1]?.perModel.map((r) => [r.model, r.costUsd]).sort()).toEqual([
      ['claude-sonnet-4-5', 2],
      ['gpt-4o-mini', 1],
    ]);
    await store.settle(usage('2026-11-26', { costUsd: 4 }), []);
    const second = await c.summaries(DAYS, 'UTC');
    expect(second[2]?.perKey).toMatchObject([{ key: 'cursor-dev', costUsd: 5, requests: 2 }]);
    expect(queries.filter((q) => q.fromDay !== '2026-11-26')).toHaveLength(1);
    expect(queries.filter((q) => q.fromDay === '2026-11-26')).toHaveLength(2);
  });

  it('reads yesterday again while it may still change, within the hour after midnight', async () => {
    now = Date.UTC(2026, 10, 26, 0, 50);
    const c = cache();
    await c.summaries(DAYS, 'UTC');
    await store.settle(usage('2026-11-25', { costUsd: 10 }), []);
    const later = await c.summaries(DAYS, 'UTC');
    expect(later[1]?.perKey.find((r) => r.key === 'cursor-dev')?.costUsd).toBe(11);
    // Once the grace period is over the day is final: read once more, then kept.
    now = Date.UTC(2026, 10, 26, 1, 1);
    const reads = queries.length;
    await c.summaries(DAYS, 'UTC');
    await c.summaries(DAYS, 'UTC');
    expect(queries.length - reads).toBe(3);
  });

  it("gives one key's rows by model from the cache and today's from the store", async () => {
    const c = cache();
    await c.summaries(DAYS, 'UTC');
    const rows = await c.rows(DAYS, 'UTC', 'open-webui');
    expect(rows.map((r) => [r.day, r.model, r.costUsd])).toEqual([['2026-11-25', 'claude-sonnet-4-5', 2]]);
    expect(queries.at(-1)).toEqual({ fromDay: '2026-11-26', toDay: '2026-11-26', key: 'open-webui' });
  });
});
