import { describe, expect, it } from 'vitest';
import { buildModel } from '../../../src/config/load/model-prices.js';
import { mayReasonUnseen } from '../../../src/metering/hidden-output.js';
import { meterExchange } from '../../../src/metering/meter.js';
import { createUsageReader } from '../../../src/metering/usage-reader.js';

const model = buildModel(
  'm',
  { upstream: 'u', input_per_mtok: 3, output_per_mtok: 15 },
  undefined,
  undefined,
  0,
);
const bound = { outputTokens: 1_000, usd: 0.5 };
// The gateway cut it (client gone or timeout) after the upstream had the whole request.
const cut = { completed: false, reachedUpstream: true, delivered: true, cutByGateway: true };

describe('output the text does not show', () => {
  it('knows which requests may reason unseen', () => {
    const chat = (model: string, extra: Record<string, unknown> = {}) =>
      mayReasonUnseen({ model, ...extra }, 'chat', [model]);
    expect(chat('o3')).toBe(true);
    expect(chat('gpt-5-mini')).toBe(true);
    expect(chat('openai/gpt-5')).toBe(true);
    expect(chat('gpt-5-chat-latest')).toBe(false);
    expect(chat('gpt-5', { reasoning_effort: 'none' })).toBe(false);
    expect(chat('gpt-4o-mini')).toBe(false);
    expect(chat('my-model', { reasoning_effort: 'low' })).toBe(true);
    expect(chat('qwen3-235b-a22b-thinking-2507')).toBe(true);
    // Qwen3 thinks by default, its -instruct models do not; OpenRouter's :thinking variants do.
    expect(chat('qwen/qwen3-32b')).toBe(true);
    expect(chat('qwen3-235b-a22b-instruct-2507')).toBe(false);
    expect(chat('anthropic/claude-3.7-sonnet:thinking')).toBe(true);
    // Gemini 2.5 Flash-Lite thinks only when asked; reasoning turned off is off.
    expect(chat('gemini-2.5-flash-lite')).toBe(false);
    expect(chat('gemini-2.5-flash')).toBe(true);
    expect(chat('o3', { reasoning: { enabled: false } })).toBe(false);
    expect(mayReasonUnseen({ reasoning: { effort: 'high' } }, 'chat', ['house'])).toBe(true);
    // These streams announce reasoning when it starts; the usage reader sees it.
    expect(mayReasonUnseen({ reasoning: { effort: 'high' } }, 'responses', ['o3'])).toBe(false);
    expect(mayReasonUnseen({ thinking: { type: 'enabled' } }, 'messages', ['c'])).toBe(false);
    expect(mayReasonUnseen({}, 'embeddings', ['o3'])).toBe(false);
  });

  it('charges a non-streamed exchange cut before its answer its reservation', () => {
    const m = meterExchange(
      { ...cut, stream: false },
      createUsageReader('openai-chat'),
      model,
      200,
      false,
      0,
      bound,
    );
    expect(m).toMatchObject({ usageSource: 'reserved', usage: { inputTokens: 200, outputTokens: 1_000 } });
    expect(m.costUsd).toBe(0.5);
  });

  it('trusts a final usage report that came before the cut, and estimates a plain stream from its text', () => {
    const reader = createUsageReader('openai-chat');
    reader.readEvent({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 7 } });
    const m = meterExchange({ ...cut, stream: true, mayReason: true }, reader, model, 200, false, 0, bound);
    expect(m).toMatchObject({ usageSource: 'provider', usage: { outputTokens: 7 } });
    const text = createUsageReader('openai-chat');
    text.readEvent({ choices: [{ delta: { content: 'abcdefgh' } }] });
    const t = meterExchange({ ...cut, stream: true }, text, model, 200, false, 0, bound);
    expect(t).toMatchObject({ usageSource: 'estimated', usage: { outputTokens: 2 } });
  });

  it("keeps Anthropic's opening input count and charges the bound once a thinking block was seen", () => {
    const reader = createUsageReader('anthropic-messages');
    reader.readEvent({ type: 'message_start', message: { usage: { input_tokens: 40, output_tokens: 1 } } });
    reader.readEvent({ type: 'content_block_start', index: 0, content_block: { type: 'redacted_thinking' } });
    const m = meterExchange({ ...cut, stream: true }, reader, model, 200, false, 0, bound);
    expect(m).toMatchObject({ usageSource: 'reserved', usage: { inputTokens: 40, outputTokens: 1_000 } });
    expect(m.costUsd).toBeCloseTo((40 * 3 + 1_000 * 15) / 1e6, 12);
    // The same stream finished: message_delta's count is final, whatever was thought.
    reader.readEvent({ type: 'message_delta', usage: { output_tokens: 300 } });
    const done = meterExchange(
      { ...cut, completed: true, stream: true },
      reader,
      model,
      200,
      false,
      0,
      bound,
    );
    expect(done).toMatchObject({ usageSource: 'provider', usage: { outputTokens: 300 } });
  });

  it('charges the estimate when the upstream failed the request itself, or answered an error', () => {
    const reader = createUsageReader('openai-chat');
    const brokeOff = meterExchange(
      { ...cut, cutByGateway: false, stream: false },
      reader,
      model,
      200,
      false,
      0,
      bound,
    );
    expect(brokeOff.usageSource).toBe('estimated');
    const error = meterExchange(
      { ...cut, upstreamStatus: 500, stream: false },
      reader,
      model,
      200,
      false,
      0,
      bound,
    );
    expect(error.usageSource).not.toBe('reserved');
    const undelivered = meterExchange(
      { ...cut, delivered: false, stream: false },
      reader,
      model,
      200,
      false,
      0,
      bound,
    );
    expect(undelivered.usageSource).toBe('estimated');
  });

  it('charges nothing for a request that never reached the upstream', () => {
    const m = meterExchange(
      { completed: false, reachedUpstream: false, stream: false },
      createUsageReader('openai-chat'),
      model,
      200,
      false,
      0,
      bound,
    );
    expect(m).toMatchObject({ usageSource: 'none', costUsd: 0 });
  });
});
