import { describe, expect, it } from 'vitest';
import {
  estimateInputTokens,
  estimateOutputTokens,
  requestedOutputTokens,
} from '../../../src/metering/estimate.js';
import { meterExchange } from '../../../src/metering/meter.js';
import { costOf } from '../../../src/metering/pricing.js';
import { createUsageReader } from '../../../src/metering/usage-reader.js';

const model = {
  name: 'm',
  upstream: 'u',
  inputPerMtok: 3,
  outputPerMtok: 15,
  cachedInputPerMtok: 0.3,
  maxOutputTokens: 1000,
};

describe('pricing and estimates', () => {
  it('prices uncached input, cached input and output each at their own rate per million', () => {
    expect(costOf({ inputTokens: 1000, cachedTokens: 400, outputTokens: 100 }, model)).toBeCloseTo(
      (600 * 3 + 400 * 0.3 + 100 * 15) / 1e6,
      15,
    );
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
    const cut = meterExchange({ completed: false, reachedUpstream: true }, reader, model, 100, false);
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
    );
    expect(never).toMatchObject({ usageSource: 'none', costUsd: 0 });
  });

  it('charges nothing for an upstream error answer that reports no usage', () => {
    const m = meterExchange(
      { completed: true, upstreamStatus: 500, reachedUpstream: true },
      createUsageReader('openai-chat'),
      model,
      100,
      false,
    );
    expect(m.costUsd).toBe(0);
  });

  it('charges a free route nothing even when the upstream reports tokens', () => {
    const reader = createUsageReader('anthropic-messages');
    reader.readJson({ usage: { input_tokens: 5 } });
    expect(
      meterExchange({ completed: true, upstreamStatus: 200, reachedUpstream: true }, reader, model, 9, true)
        .costUsd,
    ).toBe(0);
  });
});
