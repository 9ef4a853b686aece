import { describe, expect, it } from 'vitest';
import { json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';

/*
 * OpenRouter's Claude models on chat completions: Anthropic bills a 1-hour cache write at 2 x input
 * and a 5-minute one at 1.25 x, but OpenRouter's usage reports one count for both
 * (`prompt_tokens_details.cache_write_tokens`) and its catalog entries list the 5-minute price only
 * (docs/api.md#prompt-cache-ttls). A request that asks for a 1-hour write is charged its writes at
 * 2 x input, within a hold at that price; a 5-minute one stays at 1.25 x.
 */

const t = heldGateway((url) => ({ yaml: yaml(url) }));
const { reserved } = t;

const yaml = (base: string) => `version: 1
upstreams:
  openrouter:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: openrouter
models:
  anthropic/claude-sonnet-4.6:
    upstream: openrouter
keys:
  agent:
    hash: {{hash:agent}}
    limits: { daily_usd: 5 }
`;

// anthropic/claude-sonnet-4.6 on OpenRouter: $3 input, $15 output per million tokens.
const INPUT_PRICE = 3;
const OUTPUT_PRICE = 15;
const PROMPT = 'The lighthouse keepers of Brittany kept a log of every ship. '.repeat(400);
const INPUT = 6_010;
const WRITTEN = 6_000;
const OUTPUT = 200;

async function post(ttl: '5m' | '1h') {
  t.up.next(
    json(200, {
      id: 'gen-1',
      object: 'chat.completion',
      model: 'anthropic/claude-sonnet-4.6',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Noted.' }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: INPUT,
        completion_tokens: OUTPUT,
        total_tokens: INPUT + OUTPUT,
        prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: WRITTEN },
      },
    }),
  );
  const res = await fetch(`${t.gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.gw.keys.agent}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'anthropic/claude-sonnet-4.6',
      max_tokens: OUTPUT,
      messages: [
        {
          role: 'system',
          content: [{ type: 'text', text: PROMPT, cache_control: { type: 'ephemeral', ttl } }],
        },
        { role: 'user', content: 'Which ship came first?' },
      ],
    }),
  });
  await res.text();
  expect(res.status).toBe(200);
  return (await t.gw.waitForRecords(1)).at(-1);
}

const bill = (writeMultiplier: number) =>
  ((INPUT - WRITTEN) * INPUT_PRICE + WRITTEN * INPUT_PRICE * writeMultiplier + OUTPUT * OUTPUT_PRICE) / 1e6;

describe("OpenRouter's Claude cache writes by TTL", () => {
  it('charges 1-hour writes at 2 x input, within the hold', async () => {
    const record = await post('1h');
    expect(record?.usageSource).toBe('provider');
    expect(Math.abs((record?.costUsd ?? 0) - bill(2))).toBeLessThan(1e-9);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it('charges 5-minute writes at 1.25 x input', async () => {
    const record = await post('5m');
    expect(Math.abs((record?.costUsd ?? 0) - bill(1.25))).toBeLessThan(1e-9);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });
});
