import { describe, expect, it } from 'vitest';
import { heldGateway } from '../helpers/held-gateway.js';

/*
 * OpenRouter's web search (the web plugin, `web_search_options`, a `:online` model) is billed apart
 * from the tokens, $4 per 1,000 Exa results or the model provider's own search price, and neither
 * counted in the answer's usage nor bounded by the request: it is refused before anything is held
 * or forwarded (docs/api.md#hosted-tools).
 */

const t = heldGateway((url) => ({ yaml: yaml(url) }));
const { reserved } = t;

const yaml = (base: string) => `version: 1
upstreams:
  openrouter:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: openrouter
  perplexity:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: perplexity
  relay:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
models:
  sonar:
    upstream: perplexity
  gpt-4o-mini:
    upstream: relay
  relay/gpt-4o:online:
    upstream: relay
    input_per_mtok: 2.5
    output_per_mtok: 10
  anthropic/claude-sonnet-4.6:
    upstream: openrouter
  openai/gpt-4o:online:
    upstream: openrouter
    input_per_mtok: 2.5
    output_per_mtok: 10
keys:
  agent:
    hash: {{hash:agent}}
    limits: { daily_usd: 5 }
`;

async function post(body: Record<string, unknown>) {
  const res = await fetch(`${t.gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.gw.keys.agent}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'What happened today?' }], ...body }),
  });
  return { status: res.status, text: await res.text(), record: (await t.gw.waitForRecords(1)).at(-1) };
}

describe("OpenRouter's web search", () => {
  it.each([
    ['the web plugin', { model: 'anthropic/claude-sonnet-4.6', plugins: [{ id: 'web', max_results: 5 }] }],
    [
      'web_search_options',
      { model: 'anthropic/claude-sonnet-4.6', web_search_options: { search_context_size: 'low' } },
    ],
    ['a :online model', { model: 'openai/gpt-4o:online' }],
    [
      'the web plugin, through an upstream of no known provider',
      { model: 'gpt-4o-mini', plugins: [{ id: 'web' }] },
    ],
    ['a :online model, through an upstream of no known provider', { model: 'relay/gpt-4o:online' }],
  ] as const)('is refused when asked by %s, forwarding nothing', async (_how, body) => {
    const { status, text, record } = await post(body);
    expect(status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'invalid_request' } });
    expect(text).toContain("key 'agent'");
    expect(text).toContain('web search');
    expect(t.up.received).toHaveLength(0);
    expect(record).toMatchObject({ status: 400, costUsd: 0 });
    expect(reserved).toHaveLength(0);
  });

  /*
   * web_search_options elsewhere is the upstream's own: Perplexity's search context size (its request
   * fee, which the catalog prices at the dearest size), Cherry Studio's web search on a relay.
   */
  it.each([
    ['sonar', 'Perplexity'],
    ['gpt-4o-mini', 'an upstream of no known provider'],
  ])('forwards web_search_options to %s on %s', async (model) => {
    const { status, record } = await post({ model, web_search_options: { search_context_size: 'high' } });
    expect(status).toBe(200);
    expect(t.up.received).toHaveLength(1);
    expect(record).toMatchObject({ status: 200 });
  });

  it('leaves a request without it alone', async () => {
    const { status } = await post({ model: 'anthropic/claude-sonnet-4.6', plugins: [{ id: 'file-parser' }] });
    expect(status).toBe(200);
  });
});
