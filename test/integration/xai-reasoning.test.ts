import { calcPrice } from '@pydantic/genai-prices';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeUpstream, json, sse, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * xAI's chat API reports a Grok answer's reasoning in `completion_tokens_details.reasoning_tokens`
 * apart from `completion_tokens` (its `total_tokens` is prompt + completion + reasoning) and bills
 * it as output: the charge is the catalog's bill for all of it, streamed or not. A Responses
 * report that counts it the same way (`total_tokens` = input + output + reasoning) is charged the
 * same; one that counts it inside `output_tokens`, as OpenAI does, is not charged it twice.
 */

let up: FakeUpstream;
let gw: Harness;

const yaml = (base: string) => `version: 1
upstreams:
  xai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: x-ai
models:
  grok-4-0709:
    upstream: xai
keys:
  agent:
    hash: {{hash:agent}}
    limits: { daily_usd: 5 }
`;

/** As the Vertex AI and xAI docs show it: 50 answer tokens after 124 of reasoning. */
const USAGE = {
  prompt_tokens: 663,
  completion_tokens: 50,
  total_tokens: 837,
  prompt_tokens_details: { cached_tokens: 654, text_tokens: 663, audio_tokens: 0, image_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 124, audio_tokens: 0 },
};

const bill = () =>
  calcPrice({ input_tokens: 663, cache_read_tokens: 654, output_tokens: 174 }, 'grok-4-0709', {
    providerId: 'x-ai',
  })?.total_price ?? Number.NaN;

async function post(body: Record<string, unknown>) {
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.keys.agent}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'grok-4-0709',
      messages: [{ role: 'user', content: 'Who are you?' }],
      ...body,
    }),
  });
  await res.text();
  expect(res.status).toBe(200);
  return (await gw.waitForRecords(1)).at(-1);
}

beforeAll(async () => {
  up = await startFakeUpstream();
  gw = await startGateway({ yaml: yaml(up.baseUrl) });
});

afterAll(async () => {
  await gw.close();
  await up.close();
});

beforeEach(() => {
  up.reset();
  gw.records.length = 0;
});

describe("xAI's reasoning tokens", () => {
  it('are charged as output on a JSON answer', async () => {
    up.next(
      json(200, {
        id: 'c',
        object: 'chat.completion',
        model: 'grok-4-0709',
        choices: [{ index: 0, message: { role: 'assistant', content: 'I am Grok.' }, finish_reason: 'stop' }],
        usage: USAGE,
      }),
    );
    const record = await post({});
    expect(record?.outputTokens).toBe(174);
    expect(Math.abs((record?.costUsd ?? 0) - bill())).toBeLessThan(1e-12);
  });

  it('are charged as output from a stream’s usage chunk', async () => {
    const base = { id: 'c', object: 'chat.completion.chunk', model: 'grok-4-0709' };
    up.next(
      sse([
        { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'I am Grok.' } }] },
        { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
        { ...base, choices: [], usage: USAGE },
        'data: [DONE]\n\n',
      ]),
    );
    const record = await post({ stream: true });
    expect(record?.outputTokens).toBe(174);
    expect(Math.abs((record?.costUsd ?? 0) - bill())).toBeLessThan(1e-12);
  });
});

describe("xAI's reasoning tokens on the Responses API", () => {
  async function respond(usage: Record<string, unknown>) {
    up.next(
      json(200, {
        id: 'resp_1',
        object: 'response',
        model: 'grok-4-0709',
        status: 'completed',
        output: [
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'I am Grok.' }] },
        ],
        usage,
      }),
    );
    const res = await fetch(`${gw.baseURL}/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.keys.agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'grok-4-0709', input: 'Who are you?' }),
    });
    await res.text();
    expect(res.status).toBe(200);
    return (await gw.waitForRecords(1)).at(-1);
  }

  const details = {
    input_tokens_details: { cached_tokens: 654 },
    output_tokens_details: { reasoning_tokens: 124 },
  };

  it('are charged as output when counted apart from output_tokens', async () => {
    const record = await respond({ input_tokens: 663, output_tokens: 50, total_tokens: 837, ...details });
    expect(record?.outputTokens).toBe(174);
    expect(Math.abs((record?.costUsd ?? 0) - bill())).toBeLessThan(1e-12);
  });

  it('are not charged twice when counted inside output_tokens', async () => {
    const record = await respond({ input_tokens: 663, output_tokens: 174, total_tokens: 837, ...details });
    expect(record?.outputTokens).toBe(174);
    expect(Math.abs((record?.costUsd ?? 0) - bill())).toBeLessThan(1e-12);
  });
});
