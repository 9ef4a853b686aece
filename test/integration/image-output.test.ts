import { describe, expect, it } from 'vitest';
import { json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';

/*
 * Gemini's image models on chat completions (docs/api.md#image-output): image output costs $30 per
 * million tokens on gemini-2.5-flash-image against $2.50 for text. The reservation holds the
 * output bound at the image price, and the charge prices `completion_tokens_details.image_tokens`
 * at it (all the output, when the report does not break it down). Where image output cannot be
 * metered (another route, a relay's catalog entry without an image price) the model is refused.
 */

const t = heldGateway((url) => ({
  yaml: yaml(url),
  env: { GEMINI_API_KEY: 'g', OPENROUTER_API_KEY: 'o' },
}));
const { reserved } = t;

const yaml = (base: string) => `version: 1
upstreams:
  gemini:
    base_url: ${base}
    api_key: \${GEMINI_API_KEY}
    provider: google
  openrouter:
    base_url: ${base}
    api_key: \${OPENROUTER_API_KEY}
    provider: openrouter
models:
  gemini-2.5-flash-image:
    upstream: gemini
  google/gemini-2.5-flash-image:
    upstream: openrouter
keys:
  painter:
    hash: {{hash:painter}}
    limits: { daily_usd: 5 }
`;

const PRICE = { input: 0.3, text: 2.5, image: 30 };
const PROMPT_TOKENS = 20;
const IMAGE = 1_290;
const TEXT = 10;

const answer = (details: Record<string, number> | undefined) =>
  json(200, {
    id: 'c',
    object: 'chat.completion',
    model: 'gemini-2.5-flash-image',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Here it is.' }, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: PROMPT_TOKENS,
      completion_tokens: IMAGE + TEXT,
      total_tokens: PROMPT_TOKENS + IMAGE + TEXT,
      ...(details ? { completion_tokens_details: details } : {}),
    },
  });

async function post(path: string, body: Record<string, unknown>) {
  const res = await fetch(`${t.gw.baseURL}/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.gw.keys.painter}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), record: (await t.gw.waitForRecords(1)).at(-1) };
}

const draw = { messages: [{ role: 'user', content: 'Draw a lighthouse at dusk.' }], max_tokens: 1_300 };

describe('image output on chat completions', () => {
  it('charges image_tokens at the image price, within a reservation that held the bound at it', async () => {
    t.up.next(answer({ reasoning_tokens: 0, image_tokens: IMAGE }));
    const { status, record } = await post('chat/completions', { model: 'gemini-2.5-flash-image', ...draw });
    expect(status).toBe(200);
    const bill = (PROMPT_TOKENS * PRICE.input + TEXT * PRICE.text + IMAGE * PRICE.image) / 1e6;
    expect(record?.usageSource).toBe('provider');
    expect(Math.abs((record?.costUsd ?? 0) - bill)).toBeLessThan(1e-9);
    expect(reserved[0]).toBeGreaterThanOrEqual(draw.max_tokens * PRICE.image * 1e-6);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it('charges output the report does not break down at the image price', async () => {
    t.up.next(answer(undefined));
    const { record } = await post('chat/completions', { model: 'gemini-2.5-flash-image', ...draw });
    const most = (PROMPT_TOKENS * PRICE.input + (IMAGE + TEXT) * PRICE.image) / 1e6;
    expect(Math.abs((record?.costUsd ?? 0) - most)).toBeLessThan(1e-9);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it('refuses the image model on /v1/responses, naming key and model, forwarding nothing', async () => {
    const { status, text, record } = await post('responses', {
      model: 'gemini-2.5-flash-image',
      input: 'Draw a lighthouse.',
    });
    expect(status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'invalid_request' } });
    expect(text).toContain("key 'painter'");
    expect(text).toContain("model 'gemini-2.5-flash-image'");
    expect(t.up.received).toHaveLength(0);
    expect(record).toMatchObject({ status: 400, costUsd: 0 });
    expect(reserved).toHaveLength(0);
  });

  it('refuses a relay’s image model whose catalog entry has no image output price', async () => {
    const { status, text } = await post('chat/completions', {
      model: 'google/gemini-2.5-flash-image',
      ...draw,
    });
    expect(status).toBe(400);
    expect(text).toContain("model 'google/gemini-2.5-flash-image'");
    expect(text).toContain('output_per_mtok');
    expect(t.up.received).toHaveLength(0);
  });
});
