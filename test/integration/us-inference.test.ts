import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { anthropicMessage, json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';

/**
 * Anthropic's US-only inference (`inference_geo: "us"`, Claude Opus 4.6 and later) is billed at
 * 1.1 x every token price, and the answer's `usage.inference_geo` says where it ran (a workspace
 * can make `us` its default). The charge is 1.1 x the catalog's global price, within the hold.
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
models:
  claude-opus-4-6:
    upstream: anthropic
keys:
  claude-code:
    hash: {{hash:claude-code}}
    limits: { daily_usd: 20 }
`;

const PROMPT = 'x'.repeat(3_000);
const OUTPUT = 800;
const USAGE = {
  input_tokens: 1_000,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
  output_tokens: OUTPUT,
};

const globalBill = () =>
  calcPrice({ input_tokens: 1_000, output_tokens: OUTPUT }, 'claude-opus-4-6', {
    providerId: 'anthropic',
    timestamp: new Date(),
  })?.total_price ?? Number.NaN;

async function send(geo: string | undefined, reported: string) {
  t.up.next(
    json(200, anthropicMessage('claude-opus-4-6', { ...USAGE, inference_geo: reported } as typeof USAGE)),
  );
  const res = await fetch(`${t.gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': t.gw.keys['claude-code'] as string, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'claude-opus-4-6',
      max_tokens: OUTPUT,
      ...(geo ? { inference_geo: geo } : {}),
      messages: [{ role: 'user', content: PROMPT }],
    }),
  });
  await res.text();
  expect(res.status).toBe(200);
  return (await t.gw.waitForRecords(1)).at(-1);
}

describe("Anthropic's US-only inference", () => {
  it('charges 1.1 x the global price when the request asks for it, within its hold', async () => {
    const record = await send('us', 'us');
    expect(record?.costUsd).toBeCloseTo(1.1 * globalBill(), 12);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it("charges 1.1 x when the answer says it ran in the US (the workspace's default)", async () => {
    const record = await send(undefined, 'us');
    expect(record?.costUsd).toBeCloseTo(1.1 * globalBill(), 12);
  });

  it('charges the global price for a global answer', async () => {
    const record = await send(undefined, 'global');
    expect(record?.costUsd).toBeCloseTo(globalBill(), 12);
  });
});
