import Anthropic from '@anthropic-ai/sdk';
import { calcPrice } from '@pydantic/genai-prices';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { CANNED, type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * Names as clients send them (docs/configuration.md#how-a-requested-model-name-is-resolved): dated snapshots
 * served by their entry, glob entries serving what the catalog prices, the upstream getting the client's own
 * name, and the record grouping spend under the entry (or the catalog id behind a glob).
 */

let upstream: FakeUpstream;
let gw: Harness;

const yaml = (base: string) => `version: 1
upstreams:
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
  anthropic:
    base_url: ${base}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
    provider: anthropic
models:
  gpt-4o:
    upstream: openai
  claude-sonnet-4-5:
    upstream: anthropic
  "claude-*":
    upstream: anthropic
keys:
  claude-code:
    hash: {{hash:claude-code}}
  sonnet-only:
    hash: {{hash:sonnet-only}}
    models: [claude-sonnet-4-5]
`;

/** What the catalog bills for the fake upstream's canned Anthropic usage. */
const anthropicBill = (model: string) =>
  calcPrice(
    {
      input_tokens:
        CANNED.messages.input_tokens +
        CANNED.messages.cache_read_input_tokens +
        CANNED.messages.cache_creation_input_tokens,
      cache_read_tokens: CANNED.messages.cache_read_input_tokens,
      cache_write_tokens: CANNED.messages.cache_creation_input_tokens,
      cache_write_1h_tokens: CANNED.messages.cache_creation.ephemeral_1h_input_tokens,
      output_tokens: CANNED.messages.output_tokens,
    },
    model,
    { providerId: 'anthropic' },
  )?.total_price;

const lastRecord = async (): Promise<UsageRecord> => (await gw.waitForRecords(1)).at(-1) as UsageRecord;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: yaml(upstream.baseUrl) });
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});
beforeEach(() => {
  gw.records.length = 0;
  upstream.reset();
});

describe('names as clients send them', () => {
  it("serves an OpenAI client's pinned snapshot gpt-4o-2024-08-06 by the gpt-4o entry at the catalog's price", async () => {
    const client = new OpenAI({ apiKey: gw.keys['claude-code'], baseURL: gw.baseURL, maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: 'gpt-4o-2024-08-06',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(answer.choices[0]?.message.content).toBe('Hello, world!');
    expect(upstream.received[0]?.json?.model).toBe('gpt-4o-2024-08-06');
    const rec = await lastRecord();
    expect(rec).toMatchObject({ model: 'gpt-4o', requestedModel: 'gpt-4o-2024-08-06', status: 200 });
    const bill = calcPrice(
      {
        input_tokens: CANNED.chat.prompt_tokens,
        cache_read_tokens: CANNED.chat.prompt_tokens_details.cached_tokens,
        output_tokens: CANNED.chat.completion_tokens,
      },
      'gpt-4o-2024-08-06',
      { providerId: 'openai' },
    )?.total_price;
    expect(Math.abs(rec.costUsd - (bill ?? Number.NaN))).toBeLessThan(1e-9);
  });

  it("serves Claude Code's claude-sonnet-4-5-20250929 by the claude-sonnet-4-5 entry, streaming, with cache writes priced", async () => {
    const client = new Anthropic({ apiKey: gw.keys['sonnet-only'], baseURL: gw.url, maxRetries: 0 });
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await stream.finalMessage();
    expect(upstream.received[0]?.json?.model).toBe('claude-sonnet-4-5-20250929');
    const rec = await lastRecord();
    expect(rec).toMatchObject({
      model: 'claude-sonnet-4-5',
      requestedModel: 'claude-sonnet-4-5-20250929',
      cacheWriteTokens: CANNED.messages.cache_creation_input_tokens,
    });
    expect(Math.abs(rec.costUsd - (anthropicBill('claude-sonnet-4-5') ?? Number.NaN))).toBeLessThan(1e-9);
    expect(await gw.deps.metrics.registry.metrics()).toContain(
      'tollgate_tokens_total{key="sonnet-only",model="claude-sonnet-4-5",direction="cache_write"} 50',
    );
  });

  it('serves claude-haiku-4-5-20251001 through the claude-* glob, recorded under the catalog id', async () => {
    const client = new Anthropic({ apiKey: gw.keys['claude-code'], baseURL: gw.url, maxRetries: 0 });
    await client.messages.create({
      model: 'claude-haiku-4-5-20251001',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(upstream.received[0]?.json?.model).toBe('claude-haiku-4-5-20251001');
    const rec = await lastRecord();
    expect(rec).toMatchObject({ model: 'claude-haiku-4-5', requestedModel: 'claude-haiku-4-5-20251001' });
    expect(Math.abs(rec.costUsd - (anthropicBill('claude-haiku-4-5') ?? Number.NaN))).toBeLessThan(1e-9);
  });

  it('bounds and meters web searches: max_uses written into a web search tool without one, each search billed', async () => {
    upstream.next(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content: [{ type: 'text', text: 'found it' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 2_000, output_tokens: 300, server_tool_use: { web_search_requests: 2 } },
        }),
      );
    });
    const client = new Anthropic({ apiKey: gw.keys['claude-code'], baseURL: gw.url, maxRetries: 0 });
    await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 1_000,
      tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      messages: [{ role: 'user', content: 'what is new?' }],
    });
    expect(upstream.received[0]?.json?.tools).toEqual([
      { type: 'web_search_20250305', name: 'web_search', max_uses: 10 },
    ]);
    const rec = await lastRecord();
    const bill = calcPrice(
      { input_tokens: 2_000, output_tokens: 300, web_searches: 2 },
      'claude-sonnet-4-5',
      {
        providerId: 'anthropic',
      },
    )?.total_price;
    expect(Math.abs(rec.costUsd - (bill ?? Number.NaN))).toBeLessThan(1e-9);
    expect(rec.costUsd).toBeGreaterThan((2_000 * 3 + 300 * 15) / 1e6 + 0.019);
  });

  it('refuses a name the glob matches but the catalog does not price, saying why', async () => {
    const client = new Anthropic({ apiKey: gw.keys['claude-code'], baseURL: gw.url, maxRetries: 0 });
    const err = await client.messages
      .create({ model: 'claude-nonexistent-9', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    const message = (err as Error).message;
    expect(message).toContain("'claude-*'");
    expect(message).toContain('price catalog (@pydantic/genai-prices');
    expect(message).toContain('a budget cannot be hard without one');
    expect(upstream.received).toHaveLength(0);
  });

  it('applies the allow-list to the resolved name: a snapshot of an allowed entry passes, a glob-served model does not', async () => {
    const client = new Anthropic({ apiKey: gw.keys['sonnet-only'], baseURL: gw.url, maxRetries: 0 });
    const err = await client.messages
      .create({
        model: 'claude-haiku-4-5-20251001',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((err as Error).message).toContain("'claude-haiku-4-5-20251001' (claude-haiku-4-5)");
    expect(upstream.received).toHaveLength(0);
  });

  it('lists on GET /v1/models the catalog models a glob serves, and only what the key may use', async () => {
    const all = new OpenAI({ apiKey: gw.keys['claude-code'], baseURL: gw.baseURL, maxRetries: 0 });
    const ids = [];
    for await (const m of all.models.list()) ids.push(m.id);
    expect(ids.slice(0, 2)).toEqual(['gpt-4o', 'claude-sonnet-4-5']);
    expect(ids).toContain('claude-haiku-4-5');
    expect(ids).toContain('claude-opus-4-1');
    expect(ids).not.toContain('claude-*');
    expect(new Set(ids).size).toBe(ids.length);
    const one = new Anthropic({ apiKey: gw.keys['sonnet-only'], baseURL: gw.url, maxRetries: 0 });
    const page = await one.models.list();
    expect(page.data.map((m) => m.id)).toEqual(['claude-sonnet-4-5']);
  });
});
