import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, json, sleep, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * A request that continues a stored conversation (`previous_response_id`, `conversation`) or
 * names a stored file is billed for input its body does not carry. The reservation bounds that
 * input by the model's context window (gpt-4o-mini: 128,000 tokens in the bundled catalog, at
 * $0.15 / $0.60 per million), so the budget stays an upper bound; settlement charges the
 * provider's real usage.
 */

const yaml = (base: string, dailyUsd: number, extraModels = '') => `version: 1
upstreams:
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
  anthropic:
    base_url: ${base}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
models:
  gpt-4o-mini:
    upstream: openai
  claude-haiku-4-5:
    upstream: anthropic
    max_output_tokens: 4096
${extraModels}keys:
  codex:
    hash: {{hash:codex}}
    limits: { daily_usd: ${dailyUsd} }
`;

/** A stored conversation of 110,000 tokens continued with 5,000 more: $0.0195 on gpt-4o-mini. */
const CONTINUED = { input_tokens: 110_000, output_tokens: 5_000, total_tokens: 115_000 };
const CONTINUED_USD = (110_000 * 0.15 + 5_000 * 0.6) / 1e6;

function continuedResponse(up: FakeUpstream, n: number) {
  for (let i = 0; i < n; i++)
    up.next(async (req, res) => {
      await sleep(150);
      const body = { id: `resp_${i}`, object: 'response', status: 'completed', output: [], usage: CONTINUED };
      await json(200, body)(req, res);
    });
}

describe('input the request body does not carry', () => {
  let up: FakeUpstream;
  let gw: Harness | undefined;
  beforeAll(async () => {
    up = await startFakeUpstream();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    up.reset();
  });
  afterAll(async () => {
    await up.close();
  });

  const openai = (h: Harness) => new OpenAI({ apiKey: h.keys.codex, baseURL: h.baseURL, maxRetries: 0 });

  it('refuses a previous_response_id request whose context-window bound does not fit, naming the key and the field', async () => {
    // $0.019 holds the body of the request many times over, but not 128,000 tokens of input.
    gw = await startGateway({ yaml: yaml(up.baseUrl, 0.019) });
    const client = openai(gw);
    const refused = await client.responses
      .create({ model: 'gpt-4o-mini', previous_response_id: 'resp_earlier', input: 'and then?' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const err = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(err.code).toBe('insufficient_quota');
    expect(err.message).toContain("key 'codex'");
    expect(err.message).toContain('previous_response_id');
    expect(err.message).toContain('128,000 tokens');
    expect(err.message).toContain('send the input in the body instead');
    expect(up.received).toHaveLength(0);
    // The same question with its input in the body fits easily.
    const inline = await client.responses.create({ model: 'gpt-4o-mini', input: 'and then?' });
    expect(inline.object).toBe('response');
  });

  it('keeps concurrent requests that continue a stored conversation within the limit, and settles what the provider billed', async () => {
    // Each is billed $0.0195; three would spend $0.0585 of a $0.05 limit if only their bodies were reserved.
    gw = await startGateway({ yaml: yaml(up.baseUrl, 0.05) });
    continuedResponse(up, 3);
    const client = openai(gw);
    const results = await Promise.allSettled(
      [0, 1, 2].map((i) =>
        client.responses.create({ model: 'gpt-4o-mini', conversation: `conv_${i}`, input: 'go on' }),
      ),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(String(r.reason)).toContain('conversation');
    const records = await gw.waitForRecords(3);
    const charged = records.reduce((sum, r) => sum + r.costUsd, 0);
    expect(charged).toBeLessThanOrEqual(0.05 + 1e-12);
    const forwarded = records.filter((r) => r.status === 200);
    expect(forwarded.length).toBeGreaterThan(0);
    for (const r of forwarded) {
      expect(r.usageSource).toBe('provider');
      expect(r.inputTokens).toBe(110_000);
      expect(r.costUsd).toBeCloseTo(CONTINUED_USD, 12);
    }
  });

  it('bounds a model the catalog does not know by its context_window, else by a default that says to set it', async () => {
    const model = (window: string) => `  my-finetune:
    upstream: openai
    input_per_mtok: 0.3
    output_per_mtok: 1.2
    max_output_tokens: 1000
${window}`;
    gw = await startGateway({ yaml: yaml(up.baseUrl, 1, model('')) });
    const body = { model: 'my-finetune', previous_response_id: 'resp_earlier', input: 'more' };
    const refused = await openai(gw)
      .responses.create({ ...body, max_output_tokens: 500 })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(String(refused)).toContain('models.my-finetune.context_window');
    await gw.close();
    gw = await startGateway({ yaml: yaml(up.baseUrl, 1, model('    context_window: 32000\n')) });
    const ok = await openai(gw).responses.create({ ...body, max_output_tokens: 500 });
    expect(ok.object).toBe('response');
  });

  it('bounds an Anthropic document given by file id by the context window, 1M tokens under the long-context beta', async () => {
    // claude-haiku-4-5: 200,000 tokens at $1 input, $5 output: (195,904 x 1 + 4,096 x 5) / 1e6 ≈ $0.22.
    gw = await startGateway({ yaml: yaml(up.baseUrl, 0.5) });
    const client = new Anthropic({ apiKey: gw.keys.codex, baseURL: gw.url, maxRetries: 0 });
    const content = [
      { type: 'document' as const, source: { type: 'file' as const, file_id: 'file_011' } },
      { type: 'text' as const, text: 'Summarise it.' },
    ];
    const ask = {
      model: 'claude-haiku-4-5',
      max_tokens: 4096,
      messages: [{ role: 'user' as const, content }],
    };
    const fits = await client.beta.messages.create(ask);
    expect(fits.type).toBe('message');
    // With the 1M-token context beta the same document may be five times larger: about $1.02.
    const refused = await client.beta.messages
      .create({ ...ask, betas: ['context-1m-2025-08-07'] })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    expect(String(refused)).toContain('a document by file_id');
    expect(String(refused)).toContain('1,000,000 tokens');
    expect(String(refused)).toContain('context beta');
    gw.reload(yaml(up.baseUrl, 0.15));
    const small = await client.beta.messages.create(ask).catch((e: unknown) => e);
    expect(String(small)).toContain('200,000 tokens, from the price catalog');
    const plain = await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'Summarise nothing.' }],
    });
    expect(plain.type).toBe('message');
  });

  it('tells a client whose PDF is already in the body to send its text, not to send it in the body', async () => {
    // claude-haiku-4-5's 200,000-token window is about $0.22: far past $0.019, whatever the PDF's bytes.
    gw = await startGateway({ yaml: yaml(up.baseUrl, 0.019) });
    const client = new Anthropic({ apiKey: gw.keys.codex, baseURL: gw.url, maxRetries: 0 });
    const pdf = { type: 'base64' as const, media_type: 'application/pdf' as const, data: 'JVBERi0xLjQK' };
    const refused = await client.messages
      .create({
        model: 'claude-haiku-4-5',
        max_tokens: 1024,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'document', source: pdf },
              { type: 'text', text: 'Summarise it.' },
            ],
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    const message = String(refused);
    expect(message).toContain('a base64 PDF document');
    expect(message).toContain('200,000 tokens');
    expect(message).toContain("send the PDF's text instead of the PDF");
    expect(message).not.toContain('in the body instead');
    const chat = await openai(gw)
      .chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'file',
                file: { filename: 'r.pdf', file_data: 'data:application/pdf;base64,JVBERi0x' },
              },
            ],
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(String(chat)).toContain('a file part by file_data, which the provider bills by its pages');
    expect(String(chat)).not.toContain('in the body instead');
    expect(up.received).toHaveLength(0);
  });
});
