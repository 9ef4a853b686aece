import { describe, expect, it } from 'vitest';
import {
  estimateInputTokens,
  GPT_4O_MINI_IMAGE,
  IMAGE_INPUT_TOKENS,
  imageAllowanceOf,
} from '../../../src/metering/estimate.js';

const size = (body: unknown) => Buffer.byteLength(JSON.stringify(body));
const estimate = (body: unknown) => estimateInputTokens(size(body), body);

describe('input token estimate for reservations', () => {
  it('counts text at one token per 3 bytes of JSON, above the ~4 characters real text takes', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(3000) }] };
    expect(estimate(body)).toBe(Math.ceil(size(body) / 3));
    expect(estimate(body)).toBeGreaterThan(3000 / 4);
  });

  it('counts a base64 data-URL image at a fixed allowance instead of its bytes', () => {
    const png = `data:image/png;base64,${'A'.repeat(600_000)}`;
    const body = {
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: png } }] }],
    };
    const tokens = estimate(body);
    expect(tokens).toBeLessThan(IMAGE_INPUT_TOKENS + 100);
    expect(tokens).toBeGreaterThanOrEqual(IMAGE_INPUT_TOKENS);
  });

  it('adds the allowance for an image given by URL, which is a few bytes but costs tokens', () => {
    const openai = {
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }],
    };
    const responses = {
      model: 'm',
      input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }],
    };
    const anthropic = {
      model: 'm',
      messages: [
        { role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }] },
      ],
    };
    for (const body of [openai, responses, anthropic]) {
      expect(estimate(body)).toBe(Math.ceil(size(body) / 3) + IMAGE_INPUT_TOKENS);
    }
  });

  it('counts an Anthropic base64 image once at the allowance and leaves a PDF at bytes/3', () => {
    const image = {
      type: 'image',
      source: { type: 'base64', media_type: 'image/jpeg', data: 'B'.repeat(90_000) },
    };
    const pdf = {
      type: 'document',
      source: { type: 'base64', media_type: 'application/pdf', data: 'C'.repeat(90_000) },
    };
    expect(estimate({ messages: [{ role: 'user', content: [image] }] })).toBeLessThan(
      IMAGE_INPUT_TOKENS + 100,
    );
    expect(estimate({ messages: [{ role: 'user', content: [pdf] }] })).toBeGreaterThan(30_000);
  });

  it("counts gpt-4o-mini's images at its own allowance, low detail at its fixed figure", () => {
    expect(GPT_4O_MINI_IMAGE).toEqual({ high: 48_169, low: 2_833, original: 48_169 });
    for (const names of [
      ['gpt-4o-mini'],
      ['gpt-*', 'gpt-4o-mini-2024-07-18'],
      ['router', 'openai/gpt-4o-mini'],
    ])
      expect(imageAllowanceOf(names)).toBe(GPT_4O_MINI_IMAGE);
    expect(imageAllowanceOf(['gpt-4o', 'gpt-4o']).high).toBe(IMAGE_INPUT_TOKENS);
    const part = (detail?: string) => ({
      type: 'image_url',
      image_url: { url: `data:image/png;base64,${'A'.repeat(60_000)}`, ...(detail ? { detail } : {}) },
    });
    const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: [part(), part('low')] }] };
    const text = Math.ceil((size(chat) - 2 * size(part().image_url.url)) / 3);
    const mini = imageAllowanceOf(['gpt-4o-mini']);
    expect(estimateInputTokens(size(chat), chat, mini)).toBeCloseTo(text + 48_169 + 2_833, -1);
    expect(estimateInputTokens(size(chat), chat)).toBeCloseTo(text + 2 * IMAGE_INPUT_TOKENS, -1);
    const responses = {
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_image', image_url: 'https://x/y.png', detail: 'low' },
            { type: 'input_image', file_id: 'file-1', detail: 'high' },
          ],
        },
      ],
    };
    expect(estimateInputTokens(size(responses), responses, mini)).toBe(
      Math.ceil(size(responses) / 3) + 2_833 + 48_169,
    );
  });

  it('falls back to bytes/3 when the body is not available', () => {
    expect(estimateInputTokens(3001)).toBe(1001);
  });
});
