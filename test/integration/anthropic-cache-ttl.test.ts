import { describe, expect, it } from 'vitest';
import { anthropicMessage, json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';

/*
 * Anthropic bills a 1-hour cache write at 2 x input and a 5-minute one at 1.25 x; its answers split
 * the writes by TTL in `usage.cache_creation`, but an Anthropic-format relay may send
 * `cache_creation_input_tokens` alone (docs/api.md#prompt-cache-ttls). A request that asks for a
 * 1-hour write with no split in the answer is charged every write at the 1-hour price, within the
 * hold; an answer that splits them is charged each part at its own price.
 */

const t = heldGateway((url) => ({ yaml: yaml(url) }));
const { reserved } = t;

const yaml = (base: string) => `version: 1
upstreams:
  relay:
    base_url: ${base}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
models:
  claude-sonnet-4-5:
    upstream: relay
keys:
  claude-code:
    hash: {{hash:claude-code}}
    limits: { daily_usd: 5 }
`;

// claude-sonnet-4-5: $3 input, $3.75 5-minute writes, $6 1-hour writes, $15 output per million.
const PROMPT = 'The lighthouse keepers of Brittany kept a log of every ship. '.repeat(400);
const UNCACHED = 10;
const WRITTEN = 6_000;
const OUTPUT = 200;

async function post(
  ttl: '5m' | '1h',
  split?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number },
) {
  const usage = {
    input_tokens: UNCACHED,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: WRITTEN,
    output_tokens: OUTPUT,
    ...(split ? { cache_creation: split } : {}),
  };
  t.up.next(json(200, anthropicMessage('claude-sonnet-4-5', usage as never)));
  const res = await fetch(`${t.gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': t.gw.keys['claude-code'] as string, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: OUTPUT,
      system: [{ type: 'text', text: PROMPT, cache_control: { type: 'ephemeral', ttl } }],
      messages: [{ role: 'user', content: 'Which ship came first?' }],
    }),
  });
  await res.text();
  expect(res.status).toBe(200);
  const records = await t.gw.waitForRecords(1);
  expect(records).toHaveLength(1);
  return records[0];
}

const bill = (write5m: number, write1h: number) =>
  (UNCACHED * 3 + write5m * 3.75 + write1h * 6 + OUTPUT * 15) / 1e6;

describe('Anthropic-format cache writes by TTL', () => {
  it('charges 1-hour writes at the 1-hour price when the answer does not split them, within the hold', async () => {
    const record = await post('1h');
    expect(record?.usageSource).toBe('provider');
    expect(Math.abs((record?.costUsd ?? 0) - bill(0, WRITTEN))).toBeLessThan(1e-12);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it('charges each part at its own price when the answer splits them', async () => {
    const record = await post('1h', { ephemeral_5m_input_tokens: 2_000, ephemeral_1h_input_tokens: 4_000 });
    expect(Math.abs((record?.costUsd ?? 0) - bill(2_000, 4_000))).toBeLessThan(1e-12);
  });

  it('charges 5-minute writes at the 5-minute price', async () => {
    const record = await post('5m');
    expect(Math.abs((record?.costUsd ?? 0) - bill(WRITTEN, 0))).toBeLessThan(1e-12);
  });
});
