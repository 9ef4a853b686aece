import { describe, expect, it } from 'vitest';
import { anthropicMessage, json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';

/**
 * An image is billed by its pixels, so the reservation counts each at a fixed allowance. Claude
 * Opus 4.7 and later see images in high resolution: up to 2,576 px on the long edge, ⌈w/28⌉ ×
 * ⌈h/28⌉ tokens, at most 4,784 (and 3 for the image block). Eight screenshots of 2356×1530 px
 * (4,675 tokens each, counted with count_tokens) settle within what the request reserved.
 *
 * gpt-4o-mini counts an image in 33 times gpt-4o's tokens: 2,833 base plus 5,667 per 512-px tile in
 * high or auto detail, at most 8 tiles (48,169 tokens), and 2,833 in low detail.
 *
 * OpenAI's `detail: "original"` (gpt-5.4 and later) reads up to 10,000 patches of 32 px, billed at
 * the model's patch multiplier (1.2 on gpt-5.4: 12,000 tokens for a 3200 x 3200 screenshot).
 */

const t = heldGateway((url) => ({ yaml: yaml(url) }));
const { reserved } = t;

const yaml = (base: string) => `version: 1
upstreams:
  anthropic:
    base_url: ${base}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
    provider: anthropic
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: openai
models:
  claude-opus-4-7:
    upstream: anthropic
  gpt-4o-mini:
    upstream: openai
  gpt-5.4:
    upstream: openai
keys:
  claude-code:
    hash: {{hash:claude-code}}
    limits: { daily_usd: 20 }
`;

const IMAGES = 8;
const PER_IMAGE = 4_675 + 3;
const OUTPUT = 500;

describe('images in a Messages request', () => {
  it("settles Claude's high-resolution images within the reservation", async () => {
    const input = IMAGES * PER_IMAGE + 25;
    t.up.next(
      json(
        200,
        anthropicMessage('claude-opus-4-7', {
          input_tokens: input,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
          output_tokens: OUTPUT,
        }),
      ),
    );
    const images = Array.from({ length: IMAGES }, (_, i) => ({
      type: 'image',
      source: { type: 'url', url: `https://example.com/screens/${i}.png` },
    }));
    const res = await fetch(`${t.gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': t.gw.keys['claude-code'] as string, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-opus-4-7',
        max_tokens: OUTPUT,
        messages: [
          { role: 'user', content: [...images, { type: 'text', text: 'What changed between these?' }] },
        ],
      }),
    });
    await res.text();
    expect(res.status).toBe(200);
    const record = (await t.gw.waitForRecords(1)).at(-1);
    expect(record?.costUsd).toBeCloseTo((input * 5 + OUTPUT * 25) / 1e6, 12);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });
});

describe('images on gpt-4o-mini', () => {
  /** One image by URL in a chat request, billed as the upstream says; what it settled at. */
  async function oneImage(detail: 'high' | 'auto' | 'low', imageTokens: number) {
    const prompt = imageTokens + 14;
    t.up.next(
      json(200, {
        id: 'x',
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: prompt, completion_tokens: OUTPUT, total_tokens: prompt + OUTPUT },
      }),
    );
    const res = await fetch(`${t.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.gw.keys['claude-code']}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        max_tokens: OUTPUT,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image_url', image_url: { url: 'https://example.com/scan.png', detail } },
              { type: 'text', text: 'Read it.' },
            ],
          },
        ],
      }),
    });
    await res.text();
    expect(res.status).toBe(200);
    const record = (await t.gw.waitForRecords(1)).at(-1);
    expect(record?.costUsd).toBeCloseTo((prompt * 0.15 + OUTPUT * 0.6) / 1e6, 12);
    return record?.costUsd ?? Number.POSITIVE_INFINITY;
  }

  it.each([
    ['high', 'a 2048 x 768 scan, 8 tiles', 2_833 + 8 * 5_667],
    ['auto', 'a 1024 x 1024 image, 4 tiles', 2_833 + 4 * 5_667],
    ['low', 'any image in low detail', 2_833],
  ] as const)('settles %s detail (%s) within the reservation', async (detail, _what, tokens) => {
    const cost = await oneImage(detail, tokens);
    expect(cost).toBeLessThanOrEqual(reserved[0] ?? 0);
  });
});

describe('images in original detail', () => {
  it('settles two 10,000-patch images on gpt-5.4 within the reservation', async () => {
    const input = 2 * 12_000 + 30;
    t.up.next(
      json(200, {
        id: 'resp_1',
        object: 'response',
        model: 'gpt-5.4',
        status: 'completed',
        output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Same.' }] }],
        usage: { input_tokens: input, output_tokens: OUTPUT, total_tokens: input + OUTPUT },
      }),
    );
    const image = (i: number) => ({
      type: 'input_image',
      image_url: `https://example.com/screens/${i}.png`,
      detail: 'original',
    });
    const res = await fetch(`${t.gw.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.gw.keys['claude-code']}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-5.4',
        max_output_tokens: OUTPUT,
        input: [
          {
            role: 'user',
            content: [image(0), image(1), { type: 'input_text', text: 'What changed between these?' }],
          },
        ],
      }),
    });
    await res.text();
    expect(res.status).toBe(200);
    const record = (await t.gw.waitForRecords(1)).at(-1);
    expect(record?.costUsd).toBeCloseTo((input * 2.5 + OUTPUT * 15) / 1e6, 12);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });
});
