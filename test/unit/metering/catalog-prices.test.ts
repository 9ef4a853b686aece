import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../../src/config/load/model-prices.js';
import type { UpstreamConfig } from '../../../src/config/types.js';
import { createUsageReader, type UsageKind } from '../../../src/metering/usage-reader.js';
import { lookupCatalog, providerOf } from '../../../src/pricing/catalog.js';
import { costOf } from '../../../src/pricing/pricing.js';

/**
 * Metered cost against the catalog's own `calcPrice` for real models and the usage their
 * providers report: the provider's `usage` JSON goes through the gateway's usage reader and price
 * tables, the same counts go to calcPrice in its terms (input_tokens is all input), and the two
 * must agree to 1e-9 USD.
 */

interface Case {
  name: string;
  model: string;
  provider: string;
  kind: UsageKind;
  usage: Record<string, unknown>;
  /** The response's output items, where the provider bills some (hosted tool calls). */
  output?: unknown[];
  /** calcPrice's usage for the same response. */
  catalog: Record<string, number>;
  at?: string;
}

const upstream = (provider: string): UpstreamConfig => ({
  name: provider,
  baseUrl: 'http://127.0.0.1:1/v1',
  apiKeyEnv: 'X',
  timeoutMs: 1000,
  format: provider === 'anthropic' ? 'anthropic' : 'openai',
  provider,
});

const CASES: Case[] = [
  {
    name: 'an OpenAI chat answer with a cached prompt',
    model: 'gpt-4o-mini',
    provider: 'openai',
    kind: 'openai-chat',
    usage: { prompt_tokens: 10_000, completion_tokens: 500, prompt_tokens_details: { cached_tokens: 6_144 } },
    catalog: { input_tokens: 10_000, cache_read_tokens: 6_144, output_tokens: 500 },
  },
  {
    name: 'a pinned OpenAI snapshot with a cached prompt',
    model: 'gpt-4o-2024-08-06',
    provider: 'openai',
    kind: 'openai-chat',
    usage: { prompt_tokens: 2_048, completion_tokens: 77, prompt_tokens_details: { cached_tokens: 1_024 } },
    catalog: { input_tokens: 2_048, cache_read_tokens: 1_024, output_tokens: 77 },
  },
  {
    name: "a reasoning model's output on the Responses API (reasoning tokens are output)",
    model: 'gpt-5',
    provider: 'openai',
    kind: 'openai-responses',
    usage: {
      input_tokens: 30_000,
      output_tokens: 4_000,
      input_tokens_details: { cached_tokens: 20_000 },
      output_tokens_details: { reasoning_tokens: 3_500 },
    },
    catalog: { input_tokens: 30_000, cache_read_tokens: 20_000, output_tokens: 4_000 },
  },
  {
    name: 'o4-mini with reasoning on chat completions',
    model: 'o4-mini',
    provider: 'openai',
    kind: 'openai-chat',
    usage: {
      prompt_tokens: 1_500,
      completion_tokens: 2_200,
      completion_tokens_details: { reasoning_tokens: 2_000 },
    },
    catalog: { input_tokens: 1_500, output_tokens: 2_200 },
  },
  {
    name: 'o3 before its price cut of 2025-06-10',
    model: 'o3',
    provider: 'openai',
    kind: 'openai-chat',
    usage: { prompt_tokens: 5_000, completion_tokens: 1_000 },
    catalog: { input_tokens: 5_000, output_tokens: 1_000 },
    at: '2025-05-01T12:00:00Z',
  },
  {
    name: 'o3 after its price cut',
    model: 'o3',
    provider: 'openai',
    kind: 'openai-chat',
    usage: { prompt_tokens: 5_000, completion_tokens: 1_000 },
    catalog: { input_tokens: 5_000, output_tokens: 1_000 },
    at: '2026-11-01T12:00:00Z',
  },
  {
    name: 'a Claude Code turn with 5-minute cache writes and cache reads',
    model: 'claude-sonnet-4-5',
    provider: 'anthropic',
    kind: 'anthropic-messages',
    usage: {
      input_tokens: 12,
      cache_read_input_tokens: 18_000,
      cache_creation_input_tokens: 2_500,
      cache_creation: { ephemeral_5m_input_tokens: 2_500, ephemeral_1h_input_tokens: 0 },
      output_tokens: 640,
    },
    catalog: {
      input_tokens: 20_512,
      cache_read_tokens: 18_000,
      cache_write_tokens: 2_500,
      output_tokens: 640,
    },
  },
  {
    name: 'a dated Claude snapshot with 1-hour cache writes',
    model: 'claude-sonnet-4-5-20250929',
    provider: 'anthropic',
    kind: 'anthropic-messages',
    usage: {
      input_tokens: 3,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 40_000,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 40_000 },
      output_tokens: 900,
    },
    catalog: {
      input_tokens: 40_003,
      cache_write_tokens: 40_000,
      cache_write_1h_tokens: 40_000,
      output_tokens: 900,
    },
  },
  {
    name: 'Haiku with both 5-minute and 1-hour writes in one turn',
    model: 'claude-haiku-4-5-20251001',
    provider: 'anthropic',
    kind: 'anthropic-messages',
    usage: {
      input_tokens: 250,
      cache_read_input_tokens: 9_000,
      cache_creation_input_tokens: 3_000,
      cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 2_000 },
      output_tokens: 120,
    },
    catalog: {
      input_tokens: 12_250,
      cache_read_tokens: 9_000,
      cache_write_tokens: 3_000,
      cache_write_1h_tokens: 2_000,
      output_tokens: 120,
    },
  },
  {
    name: 'a 300k-token Sonnet prompt, priced in the long-context tier',
    model: 'claude-sonnet-4-5',
    provider: 'anthropic',
    kind: 'anthropic-messages',
    usage: {
      input_tokens: 250_000,
      cache_read_input_tokens: 40_000,
      cache_creation_input_tokens: 10_000,
      output_tokens: 2_000,
    },
    catalog: {
      input_tokens: 300_000,
      cache_read_tokens: 40_000,
      cache_write_tokens: 10_000,
      output_tokens: 2_000,
    },
  },
  {
    name: 'Opus reading a large cache',
    model: 'claude-opus-4-1',
    provider: 'anthropic',
    kind: 'anthropic-messages',
    usage: { input_tokens: 40, cache_read_input_tokens: 150_000, output_tokens: 3_000 },
    catalog: { input_tokens: 150_040, cache_read_tokens: 150_000, output_tokens: 3_000 },
  },
  {
    name: 'Gemini 2.5 Pro above its 200k tier',
    model: 'gemini-2.5-pro',
    provider: 'google',
    kind: 'openai-chat',
    usage: {
      prompt_tokens: 250_000,
      completion_tokens: 1_000,
      prompt_tokens_details: { cached_tokens: 100_000 },
    },
    catalog: { input_tokens: 250_000, cache_read_tokens: 100_000, output_tokens: 1_000 },
  },
  {
    name: "DeepSeek's off-peak price at 18:00 UTC",
    model: 'deepseek-chat',
    provider: 'deepseek',
    kind: 'openai-chat',
    usage: {
      prompt_tokens: 8_000,
      completion_tokens: 1_000,
      prompt_tokens_details: { cached_tokens: 4_000 },
    },
    catalog: { input_tokens: 8_000, cache_read_tokens: 4_000, output_tokens: 1_000 },
    at: '2026-11-30T18:00:00Z',
  },
  {
    name: "DeepSeek's peak price at 09:00 UTC",
    model: 'deepseek-chat',
    provider: 'deepseek',
    kind: 'openai-chat',
    usage: {
      prompt_tokens: 8_000,
      completion_tokens: 1_000,
      prompt_tokens_details: { cached_tokens: 4_000 },
    },
    catalog: { input_tokens: 8_000, cache_read_tokens: 4_000, output_tokens: 1_000 },
    at: '2026-11-30T09:00:00Z',
  },
  {
    name: 'Perplexity deep research: reasoning priced apart, plus a price per request',
    model: 'sonar-deep-research',
    provider: 'perplexity',
    kind: 'openai-chat',
    usage: {
      prompt_tokens: 300,
      completion_tokens: 5_000,
      completion_tokens_details: { reasoning_tokens: 4_000 },
    },
    catalog: { input_tokens: 300, output_tokens: 5_000, output_reasoning_tokens: 4_000 },
  },
  {
    name: 'a Claude turn that ran web searches, billed per search',
    model: 'claude-sonnet-4-5',
    provider: 'anthropic',
    kind: 'anthropic-messages',
    usage: {
      input_tokens: 3_000,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
      output_tokens: 700,
      server_tool_use: { web_search_requests: 3 },
    },
    catalog: { input_tokens: 3_000, output_tokens: 700, web_searches: 3 },
  },
  {
    name: 'a Responses answer that ran two hosted web searches',
    model: 'gpt-4.1',
    provider: 'openai',
    kind: 'openai-responses',
    usage: { input_tokens: 9_000, output_tokens: 400, input_tokens_details: { cached_tokens: 0 } },
    output: [
      { type: 'web_search_call', id: 'ws_1', status: 'completed' },
      { type: 'web_search_call', id: 'ws_2', status: 'completed' },
      { type: 'message', id: 'msg_1', content: [{ type: 'output_text', text: 'x' }] },
    ],
    catalog: { input_tokens: 9_000, output_tokens: 400, web_searches: 2 },
  },
  {
    name: 'GPT-5.6 writing its prompt to the cache (billed at 1.25 x input)',
    model: 'gpt-5.6-sol',
    provider: 'openai',
    kind: 'openai-responses',
    usage: {
      input_tokens: 12_000,
      output_tokens: 300,
      input_tokens_details: { cached_tokens: 2_000, cache_write_tokens: 9_000 },
    },
    catalog: {
      input_tokens: 12_000,
      cache_read_tokens: 2_000,
      cache_write_tokens: 9_000,
      output_tokens: 300,
    },
  },
  {
    name: 'Claude through OpenRouter, its cache writes in prompt_tokens_details',
    model: 'anthropic/claude-sonnet-4.5',
    provider: 'openrouter',
    kind: 'openai-chat',
    usage: {
      prompt_tokens: 20_000,
      completion_tokens: 500,
      prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 18_000 },
    },
    catalog: { input_tokens: 20_000, cache_write_tokens: 18_000, output_tokens: 500 },
  },
  {
    name: 'Grok reasoning, which xAI counts apart from completion_tokens (total_tokens includes it)',
    model: 'grok-4-0709',
    provider: 'x-ai',
    kind: 'openai-chat',
    usage: {
      prompt_tokens: 663,
      completion_tokens: 50,
      total_tokens: 837,
      prompt_tokens_details: { cached_tokens: 654 },
      completion_tokens_details: { reasoning_tokens: 124 },
    },
    catalog: { input_tokens: 663, cache_read_tokens: 654, output_tokens: 174 },
  },
  {
    name: 'reasoning a relay already counted inside completion_tokens',
    model: 'grok-4-0709',
    provider: 'x-ai',
    kind: 'openai-chat',
    usage: {
      prompt_tokens: 686,
      completion_tokens: 123,
      total_tokens: 809,
      prompt_tokens_details: { cached_tokens: 679 },
      completion_tokens_details: { reasoning_tokens: 112 },
    },
    catalog: { input_tokens: 686, cache_read_tokens: 679, output_tokens: 123 },
  },
  {
    name: 'an audio model, audio priced apart from text on both sides',
    model: 'gpt-audio',
    provider: 'openai',
    kind: 'openai-chat',
    usage: {
      prompt_tokens: 1_200,
      completion_tokens: 900,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 1_000 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 800 },
    },
    catalog: { input_tokens: 1_200, input_audio_tokens: 1_000, output_tokens: 900, output_audio_tokens: 800 },
  },
  {
    name: 'cached audio at its own price, apart from cached text',
    model: 'gpt-realtime-mini',
    provider: 'openai',
    kind: 'openai-chat',
    usage: {
      prompt_tokens: 10_000,
      completion_tokens: 500,
      prompt_tokens_details: {
        cached_tokens: 6_000,
        audio_tokens: 8_000,
        cached_tokens_details: { text_tokens: 1_000, audio_tokens: 5_000 },
      },
    },
    catalog: {
      input_tokens: 10_000,
      cache_read_tokens: 6_000,
      input_audio_tokens: 8_000,
      cache_audio_read_tokens: 5_000,
      output_tokens: 500,
    },
  },
];

describe('metered cost equals the price catalog', () => {
  it.each(CASES)('meters $name exactly as calcPrice', (c) => {
    const at = new Date(c.at ?? '2026-11-30T12:00:00Z');
    const catalog = lookupCatalog(c.model, c.provider);
    expect(catalog, `${c.model} is in the catalog`).toBeDefined();
    const model = buildModel(c.model, { upstream: c.provider }, upstream(c.provider), catalog, at.getTime());
    const reader = createUsageReader(c.kind);
    reader.readJson({ usage: c.usage, ...(c.output ? { output: c.output } : {}) });
    const usage = reader.usage();
    if (!usage) throw new Error('the reader found no usage');
    const expected = calcPrice(c.catalog, c.model, { providerId: c.provider, timestamp: at });
    expect(expected).not.toBeNull();
    const metered = costOf(usage, model, at.getTime());
    expect(Math.abs(metered - (expected?.total_price ?? Number.NaN))).toBeLessThan(1e-9);
    expect(metered).toBeGreaterThan(0);
  });

  it('prices a 300k-token Sonnet prompt in the long-context tier, at twice the base input price', () => {
    const model = buildModel(
      'claude-sonnet-4-5',
      { upstream: 'anthropic' },
      upstream('anthropic'),
      lookupCatalog('claude-sonnet-4-5', 'anthropic'),
      0,
    );
    const usage = { inputTokens: 300_000, outputTokens: 0, cachedTokens: 0, cacheWriteTokens: 0 };
    expect(costOf(usage, model, 0)).toBeCloseTo((300_000 * 6) / 1e6, 12);
    expect(costOf({ ...usage, inputTokens: 200_000 }, model, 0)).toBeCloseTo((200_000 * 3) / 1e6, 12);
  });

  it("bills the issue's two cached Claude turns at what Anthropic bills, not as plain input", () => {
    // Two turns of claude-sonnet-4-5: the first writes 2,000 tokens to the cache, the second reads them.
    const model = buildModel(
      'claude-sonnet-4-5',
      { upstream: 'anthropic' },
      upstream('anthropic'),
      lookupCatalog('claude-sonnet-4-5', 'anthropic'),
      0,
    );
    const turns = [
      { input_tokens: 100, cache_creation_input_tokens: 2_000, output_tokens: 300 },
      { input_tokens: 120, cache_read_input_tokens: 2_000, output_tokens: 280 },
    ];
    const total = turns.reduce((sum, u) => {
      const r = createUsageReader('anthropic-messages');
      r.readJson({ usage: u });
      return (
        sum +
        costOf(
          r.usage() ?? { inputTokens: 0, outputTokens: 0, cachedTokens: 0, cacheWriteTokens: 0 },
          model,
          0,
        )
      );
    }, 0);
    const billed = (100 * 3 + 2_000 * 3.75 + 300 * 15 + 120 * 3 + 2_000 * 0.3 + 280 * 15) / 1e6;
    expect(total).toBeCloseTo(billed, 12);
  });
});

describe('the provider an upstream is recognised as', () => {
  it("takes OpenAI's data-residency endpoints for OpenAI, and nothing else that merely mentions it", () => {
    expect(providerOf({ baseUrl: 'https://api.openai.com/v1' })).toBe('openai');
    expect(providerOf({ baseUrl: 'https://eu.api.openai.com/v1' })).toBe('openai');
    expect(providerOf({ baseUrl: 'https://us.api.openai.com/v1' })).toBe('openai');
    expect(providerOf({ baseUrl: 'https://eu.api.openai.com.example.net/v1' })).toBeUndefined();
    expect(providerOf({ baseUrl: 'https://gateway.example.net/api.openai.com/v1' })).toBeUndefined();
    expect(providerOf({ baseUrl: 'https://eu.api.openai.com/v1', provider: 'azure' })).toBe('azure');
    for (const spelled of [
      'https://eu.api.openai.com:443/v1',
      'https://EU.api.openai.com./v1',
      'https://u@us.api.openai.com/v1',
    ])
      expect(providerOf({ baseUrl: spelled })).toBe('openai');
    expect(providerOf({ baseUrl: 'http://eu.api.openai.com/v1' })).toBeUndefined();
  });
});
