import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import { createInsightsCache } from '../../../src/dashboard/insights-cache.js';
import { createDashboardInsights } from '../../../src/dashboard/insights-section.js';
import { createFindingsCache } from '../../../src/insights/findings-cache.js';
import type { InsightReader } from '../../../src/insights/read-period.js';
import { buildInsightLines } from '../../../src/slack/digest/insight-lines.js';

/**
 * A store whose insight reads wait until the test opens them, counting the reads: one read of
 * insightFacts per key is one computation.
 */
function gatedStore() {
  const reads: string[] = [];
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const store = {
    async insightFacts(q: { key?: string }) {
      reads.push(q.key ?? '*');
      await gate;
      return { groups: [], repeats: [], prefixes: [] };
    },
    async inputTokensAtRank() {
      return 0;
    },
    async keepSecret(_name: string, candidate: string) {
      return candidate;
    },
    async dailyTotals() {
      return [];
    },
  } as unknown as InsightReader;
  return { store, reads, open: () => open() };
}

const config = { server: { timezone: 'UTC' }, keys: { alpha: {}, beta: {} } } as unknown as Config;
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('the findings cache', () => {
  it('answers a cold page view at once, computing in the background, and shares one computation', async () => {
    const { store, reads, open } = gatedStore();
    const insights = createDashboardInsights(createInsightsCache(store, () => 1_000_000));
    // Two page views while the store has not answered: neither waits, both say computing.
    expect(insights.top(config)).toEqual({ findings: null, computing: true });
    expect(insights.ofKey(config, 'alpha')).toEqual({ findings: null, computing: true });
    await settle();
    expect(reads).toEqual(['alpha']); // key by key: the second key waits for the first
    open();
    await settle();
    expect(reads).toEqual(['alpha', 'beta']);
    expect(insights.top(config)).toEqual({ findings: [], computing: false });
    expect(insights.ofKey(config, 'beta')).toEqual({ findings: [], computing: false });
    expect(reads).toEqual(['alpha', 'beta']); // served from the cache
  });

  it('computes again once the result is stale, showing the last result meanwhile', async () => {
    const { store, reads, open } = gatedStore();
    let now = 0;
    const cache = createFindingsCache({ store, clock: () => now, days: 7, ttlMs: 1_000 });
    open();
    const [a, b] = await Promise.all([cache.refresh(config), cache.refresh(config)]);
    expect(a).toBe(b);
    expect(reads).toEqual(['alpha', 'beta']);
    now = 999;
    expect(cache.peek(config)).toEqual({ findings: [], computing: false });
    now = 1_000;
    expect(cache.peek(config)).toEqual({ findings: [], computing: true });
    await settle();
    expect(reads).toEqual(['alpha', 'beta', 'alpha', 'beta']);
  });

  it('keeps the last result when a computation fails, and says so', async () => {
    const errors: unknown[] = [];
    const store = {
      insightFacts: async () => {
        throw new Error('store_unavailable');
      },
    } as unknown as InsightReader;
    const cache = createFindingsCache({
      store,
      clock: () => 0,
      days: 7,
      ttlMs: 1_000,
      onError: (e) => errors.push(e),
    });
    expect(cache.peek(config)).toEqual({ findings: null, computing: true });
    await settle();
    expect(errors).toHaveLength(1);
    expect(cache.peek(config).findings).toBeNull();
  });
});

describe("the digest's findings", () => {
  it('are read key by key, letting other work run between two keys', async () => {
    const events: string[] = [];
    const store = {
      insightFacts: async (q: { key?: string }) => {
        events.push(`read ${q.key ?? 'every key'}`);
        // Work queued while a key is read (a request on the event loop) runs before the next key.
        setImmediate(() => events.push('other work'));
        return { groups: [], repeats: [], prefixes: [] };
      },
      inputTokensAtRank: async () => 0,
      dailyTotals: async () => [],
    } as unknown as InsightReader;
    await buildInsightLines(store, config, '2026-11-24');
    expect(events.slice(0, 3)).toEqual(['read alpha', 'other work', 'read beta']);
  });
});
