import { describe, expect, it } from 'vitest';
import { json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';

/*
 * OpenAI's gpt-4o audio models bill audio tokens at an audio price (gpt-4o-audio-preview: $40 per
 * million in, $80 out, against $2.50 and $10 for text; OpenAI's model page), which the catalog
 * leaves out (docs/api.md#audio-prices). Audio is charged at it, within the hold; audio to a
 * model with no audio price is refused before anything is held or forwarded.
 */

const t = heldGateway((url) => ({ yaml: yaml(url) }));
const { reserved } = t;

const yaml = (base: string) => `version: 1
upstreams:
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: openai
  google:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: google
  openrouter:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: openrouter
  vllm:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
models:
  gemini-2.5-pro:
    upstream: google
  google/gemini-2.5-flash:
    upstream: openrouter
  openai/gpt-4o-mini:
    upstream: openrouter
  qwen2.5-omni:
    upstream: vllm
    input_per_mtok: 0.5
    output_per_mtok: 1
  gpt-4o-audio-preview:
    upstream: openai
  house-gpt:
    upstream: openai
    input_per_mtok: 1
    output_per_mtok: 4
  house-voice:
    upstream: openai
    input_per_mtok: 2.5
    output_per_mtok: 10
    input_audio_per_mtok: 40
    output_audio_per_mtok: 80
keys:
  voice:
    hash: {{hash:voice}}
    limits: { daily_usd: 5 }
`;

const AUDIO = { data: 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=', format: 'wav' };

async function post(model: string, extra: Record<string, unknown> = {}) {
  const res = await fetch(`${t.gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.gw.keys.voice}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      modalities: ['text', 'audio'],
      audio: { voice: 'alloy', format: 'wav' },
      max_completion_tokens: 1_000,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What does this say?' },
            { type: 'input_audio', input_audio: AUDIO },
          ],
        },
      ],
      ...extra,
    }),
  });
  return { status: res.status, text: await res.text(), record: (await t.gw.waitForRecords(1)).at(-1) };
}

describe('audio prices', () => {
  it('charges gpt-4o-audio-preview audio at its audio prices, within the hold', async () => {
    t.up.next(
      json(200, {
        id: 'c',
        object: 'chat.completion',
        model: 'gpt-4o-audio-preview-2025-06-03',
        choices: [{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: 1_000,
          completion_tokens: 500,
          total_tokens: 1_500,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 800 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 400 },
        },
      }),
    );
    const { status, record } = await post('gpt-4o-audio-preview');
    expect(status).toBe(200);
    const bill = (200 * 2.5 + 800 * 40 + 100 * 10 + 400 * 80) / 1e6;
    expect(Math.abs((record?.costUsd ?? 0) - bill)).toBeLessThan(1e-12);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it('charges a keys.yaml model its keys.yaml audio prices, within the hold', async () => {
    t.up.next(
      json(200, {
        id: 'c',
        object: 'chat.completion',
        model: 'house-voice',
        choices: [{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: 1_000,
          completion_tokens: 500,
          total_tokens: 1_500,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 800 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 400 },
        },
      }),
    );
    const { status, record } = await post('house-voice');
    expect(status).toBe(200);
    const bill = (200 * 2.5 + 800 * 40 + 100 * 10 + 400 * 80) / 1e6;
    expect(Math.abs((record?.costUsd ?? 0) - bill)).toBeLessThan(1e-12);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it.each([
    ['house-gpt', 'a model priced in keys.yaml without audio prices'],
    ['gpt-4o-audio-preview-2024-10-01', 'a snapshot whose audio price is unknown'],
    ['openai/gpt-4o-mini', "OpenRouter's entry for an OpenAI model, with no audio price"],
    ['google/gemini-2.5-flash', "OpenRouter's entry for a Gemini Flash model, which bills audio apart"],
  ])('refuses audio to %s (%s), forwarding nothing', async (model) => {
    const { status, text, record } = await post(model);
    expect(status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'invalid_request' } });
    expect(text).toContain("key 'voice'");
    expect(text).toContain('no audio price');
    expect(t.up.received).toHaveLength(0);
    expect(record).toMatchObject({ status: 400, costUsd: 0 });
    expect(reserved).toHaveLength(0);
  });

  /*
   * Google bills audio input to its Pro models at the text price, and a self-hosted model's price
   * is what keys.yaml says: audio there is served, charged at the text price.
   */
  it.each([
    ['gemini-2.5-pro', 1.25, 10],
    ['qwen2.5-omni', 0.5, 1],
  ])('serves audio to %s, whose provider bills it at the text price', async (model, input, output) => {
    t.up.next(
      json(200, {
        id: 'c',
        object: 'chat.completion',
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: 1_000,
          completion_tokens: 100,
          total_tokens: 1_100,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 800 },
        },
      }),
    );
    const { status, record } = await post(model, { modalities: ['text'], audio: undefined });
    expect(status).toBe(200);
    expect(t.up.received).toHaveLength(1);
    const bill = (1_000 * input + 100 * output) / 1e6;
    expect(Math.abs((record?.costUsd ?? 0) - bill)).toBeLessThan(1e-12);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it('serves the same model without audio', async () => {
    const { status } = await post('house-gpt', {
      modalities: ['text'],
      audio: undefined,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(status).toBe(200);
  });
});
