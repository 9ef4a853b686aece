import { describe, expect, it } from 'vitest';
import { json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';

/*
 * Web searches OpenAI bills per call on top of the tokens, for models the price catalog lists no
 * search price for (docs/api.md#search-models, docs/api.md#hosted-tools). Deep research on
 * /v1/responses is charged $10 per 1,000 calls, each `web_search_call` of the answer, and holds
 * the `max_tool_calls` it allows; the chat search models, whose searches chat completions neither
 * counts nor bounds, are refused; so is a Responses web search on a model with no search price.
 * OpenAI's fee also depends on the tool and the model: web_search_preview costs $25 per 1,000
 * calls on non-reasoning models (gpt-4o, gpt-4.1), $10 on reasoning ones; web_search $10 on all,
 * plus a fixed 8,000 input tokens per call on gpt-4o-mini and gpt-4.1-mini.
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
  o4-mini-deep-research:
    upstream: openai
  gpt-4o-search-preview:
    upstream: openai
  gpt-4o-mini-search-preview:
    upstream: openai
  gpt-4o:
    upstream: openai
  gpt-4.1-mini:
    upstream: openai
  o3:
    upstream: openai
  gpt-5-chat-latest:
    upstream: openai
  house-gpt:
    upstream: openai
    input_per_mtok: 1
    output_per_mtok: 4
  sonar-deep-research:
    upstream: openai
    input_per_mtok: 2
    output_per_mtok: 8
  perplexity/sonar-deep-research:
    upstream: openai
    input_per_mtok: 2
    output_per_mtok: 8
  perplexity/sonar-pro-search:
    upstream: openai
    input_per_mtok: 3
    output_per_mtok: 15
keys:
  research:
    hash: {{hash:research}}
    limits: { daily_usd: 50 }
`;

const PRICE = { input: 2, output: 8, search: 0.01 };
const USAGE = { input_tokens: 3_000, output_tokens: 2_000 };
const SEARCHES = 3;

async function post(path: string, body: Record<string, unknown>) {
  const res = await fetch(`${t.gw.baseURL}/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.gw.keys.research}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), record: (await t.gw.waitForRecords(1)).at(-1) };
}

describe('per-call search fees', () => {
  it('charges each web search call of a deep research answer, within a hold of max_tool_calls searches', async () => {
    const search = (i: number) => ({
      type: 'web_search_call',
      id: `ws_${i}`,
      status: 'completed',
      action: { type: 'search', query: `q${i}` },
    });
    t.up.next(
      json(200, {
        id: 'resp_1',
        object: 'response',
        model: 'o4-mini-deep-research',
        status: 'completed',
        output: [
          ...Array.from({ length: SEARCHES }, (_, i) => search(i)),
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Report.' }] },
        ],
        usage: { ...USAGE, total_tokens: USAGE.input_tokens + USAGE.output_tokens },
      }),
    );
    const { status, record } = await post('responses', {
      model: 'o4-mini-deep-research',
      input: 'Research the lighthouse keepers of Brittany.',
      tools: [{ type: 'web_search_preview' }],
      max_tool_calls: 5,
      max_output_tokens: 2_000,
    });
    expect(status).toBe(200);
    const bill =
      (USAGE.input_tokens * PRICE.input + USAGE.output_tokens * PRICE.output) / 1e6 + SEARCHES * PRICE.search;
    expect(record?.usageSource).toBe('provider');
    expect(Math.abs((record?.costUsd ?? 0) - bill)).toBeLessThan(1e-9);
    expect(reserved[0]).toBeGreaterThanOrEqual(5 * PRICE.search + (2_000 * PRICE.output) / 1e6);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  const searchCall = (i: number) => ({
    type: 'web_search_call',
    id: `ws_${i}`,
    status: 'completed',
    action: { type: 'search', query: `q${i}` },
  });

  // [model, tool, $/M input, $/M output, USD per call, input tokens billed per call]
  it.each([
    ['gpt-4o', 'web_search_preview', 2.5, 10, 0.025, 0],
    ['gpt-4o', 'web_search', 2.5, 10, 0.01, 0],
    ['gpt-4.1-mini', 'web_search', 0.4, 1.6, 0.01, 8_000],
    ['gpt-4.1-mini', 'web_search_preview', 0.4, 1.6, 0.025, 0],
    ['o3', 'web_search_preview', 2, 8, 0.01, 0],
  ] as const)(
    'holds and charges %s with %s at its own per-call price',
    async (model, tool, inP, outP, fee, block) => {
      t.up.next(
        json(200, {
          id: 'resp_2',
          object: 'response',
          model,
          status: 'completed',
          output: [
            ...Array.from({ length: SEARCHES }, (_, i) => searchCall(i)),
            { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Answer.' }] },
          ],
          usage: { ...USAGE, total_tokens: USAGE.input_tokens + USAGE.output_tokens },
        }),
      );
      const { status, record } = await post('responses', {
        model,
        input: 'What is on at the Rennes opera this week?',
        tools: [{ type: tool }],
        max_tool_calls: 5,
        max_output_tokens: 2_000,
      });
      expect(status).toBe(200);
      const bill =
        ((USAGE.input_tokens + SEARCHES * block) * inP + USAGE.output_tokens * outP) / 1e6 + SEARCHES * fee;
      expect(record?.usageSource).toBe('provider');
      expect(Math.abs((record?.costUsd ?? 0) - bill)).toBeLessThan(1e-9);
      expect(reserved[0]).toBeGreaterThanOrEqual(5 * (fee + (block * inP) / 1e6) + (2_000 * outP) / 1e6);
      expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
    },
  );

  it('refuses web_search_preview on a model whose preview fee is unknown, and serves web_search', async () => {
    const refused = await post('responses', {
      model: 'gpt-5-chat-latest',
      input: 'hi',
      tools: [{ type: 'web_search_preview' }],
    });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain("model 'gpt-5-chat-latest'");
    expect(t.up.received).toHaveLength(0);
    t.gw.records.length = 0;
    const served = await post('responses', {
      model: 'gpt-5-chat-latest',
      input: 'hi',
      tools: [{ type: 'web_search' }],
    });
    expect(served.status).toBe(200);
  });

  it.each([
    'gpt-4o-search-preview',
    'gpt-4o-mini-search-preview',
    'sonar-deep-research',
    'perplexity/sonar-deep-research',
    'perplexity/sonar-pro-search',
  ])(
    'refuses %s, whose searches chat completions neither counts nor bounds, naming key and model, forwarding nothing',
    async (model) => {
      const { status, text, record } = await post('chat/completions', {
        model,
        messages: [{ role: 'user', content: 'What happened today?' }],
      });
      expect(status).toBe(400);
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'invalid_request' } });
      expect(text).toContain("key 'research'");
      expect(text).toContain(`model '${model}'`);
      expect(t.up.received).toHaveLength(0);
      expect(record).toMatchObject({ status: 400, costUsd: 0 });
      expect(reserved).toHaveLength(0);
    },
  );

  it("refuses Perplexity's Pro Search (search_type pro or auto), forwarding nothing, and serves the default fast search", async () => {
    for (const searchType of ['pro', 'auto']) {
      const { status, text, record } = await post('chat/completions', {
        model: 'house-gpt',
        stream: true,
        web_search_options: { search_type: searchType },
        messages: [{ role: 'user', content: 'What happened today?' }],
      });
      expect(status).toBe(400);
      expect(text).toContain('Pro Search');
      expect(record).toMatchObject({ status: 400, costUsd: 0 });
    }
    expect(t.up.received).toHaveLength(0);
    const served = await post('chat/completions', {
      model: 'house-gpt',
      web_search_options: { search_type: 'fast' },
      messages: [{ role: 'user', content: 'What happened today?' }],
    });
    expect(served.status).toBe(200);
    expect(t.up.received).toHaveLength(1);
  });

  it('refuses a Responses web search on a model with no search price, and serves it without one', async () => {
    const refused = await post('responses', {
      model: 'house-gpt',
      input: 'hi',
      tools: [{ type: 'web_search' }],
    });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain("model 'house-gpt'");
    expect(t.up.received).toHaveLength(0);
    t.gw.records.length = 0;
    const served = await post('responses', { model: 'house-gpt', input: 'hi' });
    expect(served.status).toBe(200);
  });
});
