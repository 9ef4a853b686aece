import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ReserveRequest } from '../../src/store/types.js';
import { anthropicMessage, type FakeUpstream, json, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * An image is billed by its pixels, so the reservation counts each at a fixed allowance. Claude
 * Opus 4.7 and later see images in high resolution: up to 2,576 px on the long edge, ⌈w/28⌉ ×
 * ⌈h/28⌉ tokens, at most 4,784 (and 3 for the image block). Eight screenshots of 2356×1530 px
 * (4,675 tokens each, counted with count_tokens) settle within what the request reserved.
 */

let up: FakeUpstream;
let gw: Harness;
const reserved: number[] = [];

const yaml = (base: string) => `version: 1
upstreams:
  anthropic:
    base_url: ${base}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
    provider: anthropic
models:
  claude-opus-4-7:
    upstream: anthropic
keys:
  claude-code:
    hash: {{hash:claude-code}}
    limits: { daily_usd: 20 }
`;

const IMAGES = 8;
const PER_IMAGE = 4_675 + 3;
const OUTPUT = 500;

beforeAll(async () => {
  up = await startFakeUpstream();
  gw = await startGateway({ yaml: yaml(up.baseUrl) });
  const reserve = gw.store.reserve.bind(gw.store);
  gw.store.reserve = (r: ReserveRequest) => {
    reserved.push(r.amountUsd);
    return reserve(r);
  };
});

afterAll(async () => {
  await gw.close();
  await up.close();
});

beforeEach(() => {
  up.reset();
  gw.records.length = 0;
  reserved.length = 0;
});

describe('images in a Messages request', () => {
  it("settles Claude's high-resolution images within the reservation", async () => {
    const input = IMAGES * PER_IMAGE + 25;
    up.next(
      json(
        200,
        anthropicMessage('claude-opus-4-7', {
          input_tokens: input,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
          output_tokens: OUTPUT,
        }),
      ),
    );
    const images = Array.from({ length: IMAGES }, (_, i) => ({
      type: 'image',
      source: { type: 'url', url: `https://example.com/screens/${i}.png` },
    }));
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': gw.keys['claude-code'] as string, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-opus-4-7',
        max_tokens: OUTPUT,
        messages: [
          { role: 'user', content: [...images, { type: 'text', text: 'What changed between these?' }] },
        ],
      }),
    });
    await res.text();
    expect(res.status).toBe(200);
    const record = (await gw.waitForRecords(1)).at(-1);
    expect(record?.costUsd).toBeCloseTo((input * 5 + OUTPUT * 25) / 1e6, 12);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });
});
