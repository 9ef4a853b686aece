import { describe, expect, it } from 'vitest';
import { buildModel } from '../../../src/config/load/model-prices.js';
import type { UpstreamConfig } from '../../../src/config/types.js';
import {
  estimateInputTokens,
  estimateOutputTokens,
  requestedOutputTokens,
} from '../../../src/metering/estimate.js';
import { meterExchange } from '../../../src/metering/meter.js';
import { createUsageReader } from '../../../src/metering/usage-reader.js';
import { lookupCatalog } from '../../../src/pricing/catalog.js';
import { type CacheWrites, cacheWritesOf, costOf, maxCostOf } from '../../../src/pricing/pricing.js';

const model = buildModel(
  'm',
  {
    upstream: 'u',
    input_per_mtok: 3,
    output_per_mtok: 15,
    cached_input_per_mtok: 0.3,
    max_output_tokens: 1000,
  },
  undefined,
  undefined,
  0,
);

const upstreamOf = (format: 'openai' | 'anthropic'): UpstreamConfig => ({
  name: 'u',
  baseUrl: 'http://127.0.0.1:1/v1',
  apiKeyEnv: 'X',
  timeoutMs: 1,
  format,
});

describe('pricing and estimates', () => {
  it('prices uncached input, cached input and output each at their own rate per million', () => {
    expect(
      costOf({ inputTokens: 1000, cachedTokens: 400, cacheWriteTokens: 0, outputTokens: 100 }, model, 0),
    ).toBeCloseTo((600 * 3 + 400 * 0.3 + 100 * 15) / 1e6, 15);
  });

  it('prices cache writes of a model the catalog does not know at 1.25 x input (2 x for 1 hour) on anthropic-format upstreams, else as input', () => {
    const raw = { upstream: 'u', input_per_mtok: 4, output_per_mtok: 20 };
    const anthropic = buildModel('house', raw, upstreamOf('anthropic'), undefined, 0);
    const openai = buildModel('house', raw, upstreamOf('openai'), undefined, 0);
    const usage = {
      inputTokens: 3000,
      cachedTokens: 0,
      cacheWriteTokens: 3000,
      cacheWrite1hTokens: 1000,
      outputTokens: 0,
    };
    expect(costOf(usage, anthropic, 0)).toBeCloseTo((2000 * 5 + 1000 * 8) / 1e6, 15);
    expect(costOf(usage, openai, 0)).toBeCloseTo((3000 * 4) / 1e6, 15);
    expect(anthropic.priceSources).toEqual({
      input: 'keys.yaml',
      output: 'keys.yaml',
      cachedInput: 'default',
      cacheWrite: 'default',
    });
    const explicit = buildModel(
      'house',
      { ...raw, cache_write_per_mtok: 6 },
      upstreamOf('anthropic'),
      undefined,
      0,
    );
    expect(costOf(usage, explicit, 0)).toBeCloseTo((3000 * 6) / 1e6, 15);
  });

  it('takes each price kind keys.yaml sets over the catalog, and the rest from the catalog', () => {
    const catalog = lookupCatalog('claude-sonnet-4-5', 'anthropic');
    const m = buildModel(
      'claude-sonnet-4-5',
      { upstream: 'a', output_per_mtok: 10 },
      upstreamOf('anthropic'),
      catalog,
      0,
    );
    expect(m).toMatchObject({
      inputPerMtok: 3,
      outputPerMtok: 10,
      cachedInputPerMtok: 0.3,
      cacheWritePerMtok: 3.75,
    });
    expect(m.priceSources).toEqual({
      input: 'catalog',
      output: 'keys.yaml',
      cachedInput: 'catalog',
      cacheWrite: 'catalog',
    });
    // An explicit output price is flat: the catalog's long-context output tier no longer applies.
    const long = { inputTokens: 300_000, cachedTokens: 0, cacheWriteTokens: 0, outputTokens: 1_000 };
    expect(costOf(long, m, 0)).toBeCloseTo((300_000 * 6 + 1_000 * 10) / 1e6, 15);
  });

  it('reserves input at the dearest way it can be billed when the prompt asks for caching', () => {
    const catalog = lookupCatalog('claude-sonnet-4-5', 'anthropic');
    const m = buildModel('claude-sonnet-4-5', { upstream: 'a' }, upstreamOf('anthropic'), catalog, 0);
    const at = (cacheWrites: CacheWrites) =>
      maxCostOf(m, 0, { inputTokens: 10_000, outputTokens: 1_000, cacheWrites });
    expect(at('none')).toBeCloseTo((10_000 * 3 + 1_000 * 15) / 1e6, 15);
    // Every input token written to the 5-minute cache (1.25 x input), or the 1-hour one (2 x).
    expect(at('5m')).toBeCloseTo((10_000 * 3.75 + 1_000 * 15) / 1e6, 15);
    expect(at('1h')).toBeCloseTo((10_000 * 6 + 1_000 * 15) / 1e6, 15);
    const body = (o: unknown) => Buffer.from(JSON.stringify(o));
    expect(cacheWritesOf(body({ messages: [{ content: 'hi' }] }))).toBe('none');
    expect(cacheWritesOf(body({ system: [{ text: 'x', cache_control: { type: 'ephemeral' } }] }))).toBe('5m');
    expect(
      cacheWritesOf(body({ system: [{ text: 'x', cache_control: { type: 'ephemeral', ttl: '1h' } }] })),
    ).toBe('1h');
  });

  it('estimates input on the high side and output at four characters per token, rounded up', () => {
    expect(estimateInputTokens(10)).toBe(4);
    expect(estimateOutputTokens(9)).toBe(3);
  });

  it('takes the output cap from whichever field the wire format uses', () => {
    expect(requestedOutputTokens({ max_tokens: 10 })).toBe(10);
    expect(requestedOutputTokens({ max_completion_tokens: 20 })).toBe(20);
    expect(requestedOutputTokens({ max_output_tokens: 30 })).toBe(30);
    expect(requestedOutputTokens({ max_tokens: 'x' })).toBeUndefined();
  });

  it('estimates a cut-off exchange from the body and the streamed text, and charges nothing for one that never reached the upstream', () => {
    const reader = createUsageReader('openai-chat');
    reader.readEvent({ choices: [{ delta: { content: 'abcdefgh' } }] });
    const cut = meterExchange({ completed: false, reachedUpstream: true }, reader, model, 100, false, 0);
    expect(cut).toMatchObject({
      usageSource: 'estimated',
      usage: { inputTokens: 100, outputTokens: 2, cachedTokens: 0 },
    });
    const never = meterExchange(
      { completed: false, reachedUpstream: false },
      createUsageReader('openai-chat'),
      model,
      100,
      false,
      0,
    );
    expect(never).toMatchObject({ usageSource: 'none', costUsd: 0 });
  });

  it("never estimates more output than the bound written into the request (the reservation's)", () => {
    const reader = createUsageReader('openai-chat');
    reader.readEvent({ choices: [{ delta: { content: 'x'.repeat(40_000) } }] });
    const capped = meterExchange({ completed: false, reachedUpstream: true }, reader, model, 100, false, 0, {
      outputTokens: 500,
      usd: 1,
    });
    expect(capped.usage.outputTokens).toBe(500);
    expect(capped.costUsd).toBeCloseTo((100 * 3 + 500 * 15) / 1e6, 12);
    const free = meterExchange({ completed: false, reachedUpstream: true }, reader, model, 100, false, 0);
    expect(free.usage.outputTokens).toBeGreaterThan(500);
  });

  it('charges nothing for an upstream error answer that reports no usage', () => {
    const m = meterExchange(
      { completed: true, upstreamStatus: 500, reachedUpstream: true },
      createUsageReader('openai-chat'),
      model,
      100,
      false,
      0,
    );
    expect(m.costUsd).toBe(0);
  });

  it('charges a free route nothing even when the upstream reports tokens', () => {
    const reader = createUsageReader('anthropic-messages');
    reader.readJson({ usage: { input_tokens: 5 } });
    expect(
      meterExchange(
        { completed: true, upstreamStatus: 200, reachedUpstream: true },
        reader,
        model,
        9,
        true,
        0,
      ).costUsd,
    ).toBe(0);
  });
});
