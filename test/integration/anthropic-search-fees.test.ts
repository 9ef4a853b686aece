import { describe, expect, it } from 'vitest';
import { json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';

/*
 * Anthropic's web search fee, $10 per 1,000 searches on every model that has the tool
 * (docs/api.md#hosted-tools), on the models whose catalog entry lists none (claude-3-haiku) and on
 * models the catalog does not know (priced in keys.yaml): each search the answer counts
 * (`usage.server_tool_use.web_search_requests`) is charged, and the hold pays for `max_uses` of
 * them. On an Anthropic-format upstream of another provider, whose fee is not known, a request
 * that may search is refused before anything is held or forwarded.
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
  relay:
    base_url: ${base}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
  kimi:
    base_url: ${base}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
    provider: moonshotai
models:
  claude-3-haiku-20240307:
    upstream: anthropic
  claude-house:
    upstream: anthropic
    input_per_mtok: 3
    output_per_mtok: 15
  claude-relayed:
    upstream: relay
    input_per_mtok: 3
    output_per_mtok: 15
  kimi-house:
    upstream: kimi
    input_per_mtok: 0.6
    output_per_mtok: 2.5
keys:
  research:
    hash: {{hash:research}}
    limits: { daily_usd: 50 }
`;

const SEARCHES = 3;
const FEE = 0.01;

async function post(body: Record<string, unknown>) {
  const res = await fetch(`${t.gw.baseURL}/messages`, {
    method: 'POST',
    headers: {
      'x-api-key': t.gw.keys.research as string,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), record: (await t.gw.waitForRecords(1)).at(-1) };
}

const answer = (model: string) =>
  json(200, {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: 'The opera plays Tosca.' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: 4_000,
      output_tokens: 500,
      server_tool_use: { web_search_requests: SEARCHES },
    },
  });

const search = { type: 'web_search_20250305', name: 'web_search', max_uses: 5 };

describe("Anthropic's web search fee where the catalog lists none", () => {
  // [model, $/M input, $/M output]
  it.each([
    ['claude-3-haiku-20240307', 0.25, 1.25],
    ['claude-house', 3, 15],
    ['claude-relayed', 3, 15],
  ] as const)(
    'charges %s 10 USD per 1,000 searches, within a hold of max_uses searches',
    async (model, inP, outP) => {
      t.up.next(answer(model));
      const { status, record } = await post({
        model,
        max_tokens: 500,
        tools: [search],
        messages: [{ role: 'user', content: 'What is on at the Rennes opera this week?' }],
      });
      expect(status).toBe(200);
      const bill = (4_000 * inP + 500 * outP) / 1e6 + SEARCHES * FEE;
      expect(record?.usageSource).toBe('provider');
      expect(Math.abs((record?.costUsd ?? 0) - bill)).toBeLessThan(1e-9);
      expect(reserved[0]).toBeGreaterThanOrEqual(5 * FEE + (500 * outP) / 1e6);
      expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
    },
  );

  it("refuses a search on another provider's Anthropic-format API, whose fee is unknown, and serves it without", async () => {
    const refused = await post({
      model: 'kimi-house',
      max_tokens: 100,
      tools: [search],
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('invalid_request');
    expect(refused.text).toContain("model 'kimi-house'");
    expect(refused.text).toContain('per-search price');
    expect(t.up.received).toHaveLength(0);
    expect(reserved).toHaveLength(0);
    t.gw.records.length = 0;
    t.up.next(answer('kimi-house'));
    const served = await post({
      model: 'kimi-house',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(served.status).toBe(200);
  });
});
