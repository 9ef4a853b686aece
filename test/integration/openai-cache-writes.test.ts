import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { json, sse } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';

/**
 * OpenAI's GPT-5.6 family bills prompt-cache writes at 1.25 x input and reports them as
 * `prompt_tokens_details.cache_write_tokens` (chat) and `input_tokens_details.cache_write_tokens`
 * (Responses); its prompt cache needs no `cache_control` marker. The charge must be the
 * catalog's bill for those counts, and the reservation must cover a prompt written whole to the
 * cache.
 */

const t = heldGateway((url) => ({ yaml: yaml(url) }));
const { reserved } = t;

const yaml = (base: string) => `version: 1
upstreams:
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: openai
models:
  gpt-5.6-sol:
    upstream: openai
keys:
  codex:
    hash: {{hash:codex}}
    limits: { daily_usd: 5 }
`;

/** 6,000 CJK characters: 18,000 bytes of UTF-8 that a tokenizer counts as about 6,000 tokens. */
const PROMPT = '漢'.repeat(6_000);
const OUTPUT = 1_000;
const INPUT = 6_010;
const WRITTEN = 6_000;

const bill = () =>
  calcPrice({ input_tokens: INPUT, cache_write_tokens: WRITTEN, output_tokens: OUTPUT }, 'gpt-5.6-sol', {
    providerId: 'openai',
    timestamp: new Date(),
  })?.total_price ?? Number.NaN;

async function post(path: string, body: Record<string, unknown>) {
  const res = await fetch(`${t.gw.baseURL}/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.gw.keys.codex}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.text();
  expect(res.status).toBe(200);
  return (await t.gw.waitForRecords(1)).at(-1);
}

describe('OpenAI cache writes (GPT-5.6)', () => {
  it('charges chat cache_write_tokens at the cache-write price, within the reservation', async () => {
    t.up.next(
      json(200, {
        id: 'c',
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'length' }],
        usage: {
          prompt_tokens: INPUT,
          completion_tokens: OUTPUT,
          total_tokens: INPUT + OUTPUT,
          prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: WRITTEN },
        },
      }),
    );
    const record = await post('chat/completions', {
      model: 'gpt-5.6-sol',
      prompt_cache_key: 'session-1',
      max_completion_tokens: OUTPUT,
      messages: [{ role: 'user', content: PROMPT }],
    });
    expect(record?.usageSource).toBe('provider');
    expect(Math.abs((record?.costUsd ?? 0) - bill())).toBeLessThan(1e-9);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it('charges a Responses stream’s cache_write_tokens the same way', async () => {
    const usage = {
      input_tokens: INPUT,
      output_tokens: OUTPUT,
      total_tokens: INPUT + OUTPUT,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: WRITTEN },
      output_tokens_details: { reasoning_tokens: 0 },
    };
    const response = { id: 'resp_1', object: 'response', model: 'gpt-5.6-sol', output: [] };
    t.up.next(
      sse([
        `event: response.created\ndata: ${JSON.stringify({ type: 'response.created', response: { ...response, status: 'in_progress', usage: null } })}\n\n`,
        `event: response.output_text.delta\ndata: ${JSON.stringify({ type: 'response.output_text.delta', delta: 'x' })}\n\n`,
        `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response: { ...response, status: 'completed', usage } })}\n\n`,
      ]),
    );
    const record = await post('responses', {
      model: 'gpt-5.6-sol',
      stream: true,
      max_output_tokens: OUTPUT,
      input: PROMPT,
    });
    expect(record?.usageSource).toBe('provider');
    expect(Math.abs((record?.costUsd ?? 0) - bill())).toBeLessThan(1e-9);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });
});
