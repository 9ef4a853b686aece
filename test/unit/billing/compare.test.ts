import { describe, expect, it } from 'vitest';
import { compareDay, withinTolerance } from '../../../src/billing/compare.js';
import type { BilledModel } from '../../../src/billing/price-report.js';
import type { MeteredModel } from '../../../src/billing/types.js';

const metered = (costUsd: number, model = 'm'): MeteredModel => ({
  model,
  requests: 10,
  okRequests: 10,
  inputTokens: 1000,
  cachedTokens: 100,
  cacheWriteTokens: 50,
  outputTokens: 200,
  costUsd,
});

const billed = (pricedUsd: number | undefined, extra: Partial<BilledModel> = {}): BilledModel => ({
  model: 'm',
  tokens: { input: 850, cached_input: 100, cache_write: 50, output: 200 },
  requests: null,
  units: false,
  scopePricedUsd: pricedUsd ?? 0,
  ...(pricedUsd === undefined ? {} : { pricedUsd }),
  ...extra,
});

const verdict = (m: MeteredModel | undefined, b: BilledModel | undefined, costsRead = false) =>
  compareDay('up', '2026-11-20', m ? [m] : [], b ? new Map([['m', b]]) : new Map(), costsRead)[0];

describe('the bill check verdicts', () => {
  it('tolerates 1% or $0.01, whichever is larger', () => {
    expect(withinTolerance(100, 100.99)).toBe(true);
    expect(withinTolerance(100, 101.1)).toBe(false);
    expect(withinTolerance(0.5, 0.509)).toBe(true);
    expect(withinTolerance(0.5, 0.52)).toBe(false);
  });

  it('splits metered input into uncached, cache reads and cache writes', () => {
    expect(verdict(metered(1), billed(1))?.metered_tokens).toEqual({
      input: 850,
      cached_input: 100,
      cache_write: 50,
      output: 200,
    });
  });

  it('says unmetered when the provider counted more, overmetered when tollgate did', () => {
    expect(verdict(metered(1), billed(1.5))?.verdict).toBe('unmetered');
    expect(verdict(metered(1.5), billed(1))?.verdict).toBe('overmetered');
    expect(verdict(undefined, billed(0.2))).toMatchObject({
      verdict: 'unmetered',
      metered_usd: 0,
      delta_usd: 0.2,
    });
  });

  it('says mispriced only when tokens match and the cost report’s dollars are over 1% off', () => {
    expect(verdict(metered(1), billed(1, { keyCostUsd: 1.2 }), true)).toMatchObject({
      verdict: 'mispriced',
      billed_usd: 1.2,
      delta_usd: 0.2,
    });
    expect(verdict(metered(1), billed(1, { keyCostUsd: 1.005 }), true)?.verdict).toBe('match');
    expect(verdict(metered(1), billed(2, { keyCostUsd: 1 }), true)?.verdict).toBe('unmetered');
  });

  it('shares a workspace’s dollars by the priced tokens of each key', () => {
    // The key's tokens are a quarter of the workspace's; the workspace was billed 10% more.
    const row = verdict(metered(1), billed(1, { scopePricedUsd: 4, scopeCostUsd: 4.4 }), true);
    expect(row).toMatchObject({ verdict: 'mispriced', billed_usd: 1.1 });
  });

  it('calls tokens of a model tollgate does not serve unmetered, without inventing a price', () => {
    const row = verdict(undefined, billed(undefined));
    expect(row).toMatchObject({ verdict: 'unmetered', billed_usd: null, delta_usd: null });
    expect(row?.detail).toContain('does not serve through tollgate');
  });

  it('compares media reported in units by request count', () => {
    const media = billed(undefined, {
      tokens: { input: 0, cached_input: 0, cache_write: 0, output: 0 },
      units: true,
      requests: 12,
    });
    expect(verdict(metered(1), media)?.verdict).toBe('unmetered');
    expect(verdict(metered(1), { ...media, requests: 10 })?.verdict).toBe('match');
  });
});
