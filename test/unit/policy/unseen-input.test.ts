import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../../src/config/types.js';
import { estimateInputTokens, IMAGE_INPUT_TOKENS } from '../../../src/metering/estimate.js';
import { unseenInputOf } from '../../../src/metering/unseen-input.js';
import { createOutputFitter } from '../../../src/policy/fit-output.js';
import { DEFAULT_CONTEXT_WINDOW, planUnseenInput } from '../../../src/policy/unseen-input.js';
import { flat, type PriceTable } from '../../../src/pricing/pricing.js';

function modelWith(table: Partial<PriceTable>, extra: Partial<ModelConfig> = {}): ModelConfig {
  const input = table.input ?? flat(1);
  const full: PriceTable = {
    input,
    cacheRead: input,
    cacheWrite: input,
    cacheWrite1h: input,
    output: flat(10),
    perRequest: 0,
    ...table,
  };
  return {
    name: 'm',
    upstream: 'openai',
    glob: false,
    prices: [{ table: full }],
    explicit: {},
    inputPerMtok: full.input.base,
    outputPerMtok: full.output.base,
    cachedInputPerMtok: full.cacheRead.base,
    cacheWritePerMtok: full.cacheWrite.base,
    priceSources: {
      input: 'keys.yaml',
      output: 'keys.yaml',
      cachedInput: 'keys.yaml',
      cacheWrite: 'keys.yaml',
    },
    maxOutputTokens: 1000,
    ...extra,
  };
}

describe('input a request references but does not carry', () => {
  it('finds the Responses fields that prepend stored input', () => {
    expect(unseenInputOf({ previous_response_id: 'resp_1', input: 'x' }, 'responses')).toBe(
      'previous_response_id',
    );
    expect(unseenInputOf({ conversation: { id: 'conv_1' } }, 'responses')).toBe('conversation');
    expect(unseenInputOf({ prompt: { id: 'pmpt_1', version: '2' } }, 'responses')).toBe('prompt');
    expect(unseenInputOf({ input: [{ type: 'item_reference', id: 'msg_1' }] }, 'responses')).toBe(
      'an item_reference in input',
    );
    expect(unseenInputOf({ input: [{ id: 'msg_1' }] }, 'responses')).toBe('an item_reference in input');
    expect(
      unseenInputOf({ previous_response_id: null, conversation: null, input: 'x' }, 'responses'),
    ).toBeUndefined();
    // previous_response_id means nothing to chat completions: the upstream ignores or refuses it.
    expect(unseenInputOf({ previous_response_id: 'resp_1', messages: [] }, 'chat')).toBeUndefined();
  });

  it('finds files given by id or URL in each wire format', () => {
    const responses = {
      input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }],
    };
    expect(unseenInputOf(responses, 'responses')).toBe('an input_file by file_id');
    const byUrl = {
      input: [{ role: 'user', content: [{ type: 'input_file', file_url: 'https://x/a.pdf' }] }],
    };
    expect(unseenInputOf(byUrl, 'responses')).toBe('an input_file by file_url');
    const chat = { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }] };
    expect(unseenInputOf(chat, 'chat')).toBe('a file part by file_id');
    const inline = {
      messages: [{ role: 'user', content: [{ type: 'file', file: { file_data: 'data:…' } }] }],
    };
    expect(unseenInputOf(inline, 'chat')).toBe('a file part by file_data');
    const inlineResponses = {
      input: [{ role: 'user', content: [{ type: 'input_file', file_data: 'data:…' }] }],
    };
    expect(unseenInputOf(inlineResponses, 'responses')).toBe('an input_file by file_data');
    const doc = (source: unknown) => ({
      messages: [{ role: 'user', content: [{ type: 'document', source }] }],
    });
    expect(unseenInputOf(doc({ type: 'file', file_id: 'f' }), 'messages')).toBe('a document by file_id');
    expect(unseenInputOf(doc({ type: 'url', url: 'https://x/a.pdf' }), 'messages')).toBe('a document by url');
    expect(unseenInputOf(doc({ type: 'base64', data: 'JVBER' }), 'messages')).toBe('a base64 PDF document');
    expect(unseenInputOf(doc({ type: 'text', data: 'plain' }), 'messages')).toBeUndefined();
  });

  it('counts an image given by file id as an image, not as unseen input', () => {
    const body = {
      input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1' }] }],
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }],
    };
    const bytes = JSON.stringify(body).length;
    expect(estimateInputTokens(bytes, body)).toBe(Math.ceil(bytes / 3) + 2 * IMAGE_INPUT_TOKENS);
    expect(unseenInputOf(body, 'responses')).toBeUndefined();
  });

  it("takes the window from the model, else the default, and Anthropic's 1M beta widens it", () => {
    const ask = { previous_response_id: 'r' };
    const known = modelWith({}, { contextWindow: 128_000, contextWindowSource: 'catalog' });
    expect(planUnseenInput(ask, 'responses', known, undefined)).toEqual({
      field: 'previous_response_id',
      contextWindow: 128_000,
      source: 'catalog',
    });
    expect(planUnseenInput(ask, 'responses', modelWith({}), undefined)?.contextWindow).toBe(
      DEFAULT_CONTEXT_WINDOW,
    );
    const doc = { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'file' } }] }] };
    const claude = modelWith({}, { contextWindow: 200_000, contextWindowSource: 'catalog' });
    expect(
      planUnseenInput(doc, 'messages', claude, 'files-api-2025-04-14,context-1m-2025-08-07'),
    ).toMatchObject({
      contextWindow: 1_000_000,
      source: 'anthropic-beta',
    });
    expect(planUnseenInput({ messages: [] }, 'messages', claude, 'context-1m-2025-08-07')).toBeUndefined();
  });
});

describe('the reservation of unseen input', () => {
  const plan = (n: number, gatewayChosen = false) =>
    gatewayChosen
      ? {
          maxOutputTokens: n,
          inject: { fields: ['max_output_tokens'], value: n },
          capped: true,
          gatewayChosen,
        }
      : { maxOutputTokens: n };
  const input = { inputTokens: 10, cacheWrites: 'none' as const, choices: 1, webSearches: 0 };

  it('reserves the window minus the output bound as input, at the input price', () => {
    const f = createOutputFitter(plan(1_000), modelWith({}), 0, { ...input, contextWindow: 100_000 });
    expect(f.amountUsd).toBeCloseTo((99_000 * 1 + 1_000 * 10) / 1e6, 12);
    expect(f.inputTokens()).toBe(99_000);
  });

  it('reserves the whole window as input when input is the dearer kind', () => {
    const f = createOutputFitter(plan(1_000), modelWith({ input: flat(20), output: flat(5) }), 0, {
      ...input,
      contextWindow: 100_000,
    });
    expect(f.amountUsd).toBeCloseTo((100_000 * 20) / 1e6, 12);
  });

  it('prices the input beside each split of the window in its own tier', () => {
    // Above 150,000 input tokens everything costs double: 150,001 input + 49,999 output is the dearest split.
    const tier = (base: number) => ({ base, tiers: [{ start: 150_000, price: base * 2 }] });
    const model = modelWith({ input: tier(1), output: tier(2) });
    const f = createOutputFitter(plan(100_000), model, 0, { ...input, contextWindow: 200_000 });
    expect(f.amountUsd).toBeCloseTo((150_001 * 2 + 49_999 * 4) / 1e6, 12);
  });

  it('lowers a bound the gateway chose to what fits, paying for the input that frees', () => {
    const f = createOutputFitter(plan(16_000, true), modelWith({}), 0, { ...input, contextWindow: 100_000 });
    // cost(o) = (100,000 - o) x 1 + o x 10 per million: $0.10 room leaves 0 output; $0.11 leaves 1,111.
    expect(f.fit?.(0.1)).toBeUndefined();
    const fitted = f.fit?.(0.11);
    expect(fitted).toBeLessThanOrEqual(0.11);
    expect(f.plan().inject?.value).toBe(1_111);
    expect(f.inputTokens()).toBe(100_000 - 1_111);
  });

  it('leaves a request without unseen input priced by its body', () => {
    const f = createOutputFitter(plan(1_000), modelWith({}), 0, input);
    expect(f.amountUsd).toBeCloseTo((10 + 10_000) / 1e6, 12);
    expect(f.inputTokens()).toBe(10);
  });
});
