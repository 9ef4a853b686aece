import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

/*
 * Modes the provider bills at a multiple of the model's price, which the price catalog does not
 * carry (docs/api.md#priced-modes): Anthropic's fast mode (`speed: "fast"`, 6 x Opus 4.6's
 * price) and OpenAI's priority processing (`service_tier: "priority"`, about 2 x). Held and
 * charged at the standard price they would be billed several times what the budget saw, so they
 * are refused before anything is reserved or forwarded; flex, cheaper, goes through.
 */

let upstream: FakeUpstream;
let gw: Harness;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: standardYaml(upstream.baseUrl) });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

beforeEach(() => {
  gw.records.length = 0;
  upstream.reset();
});

async function post(path: string, key: string, body: Record<string, unknown>) {
  const res = await fetch(`${gw.baseURL}/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.keys[key]}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const lastRecord = async (): Promise<UsageRecord> => (await gw.waitForRecords(1)).at(-1) as UsageRecord;

describe('modes billed at a multiple of the price', () => {
  it("refuses Anthropic's fast mode on /v1/messages, in Anthropic's error shape, forwarding nothing", async () => {
    const { status, body } = await post('messages', 'claude-code', {
      model: 'claude-house-1',
      max_tokens: 100,
      speed: 'fast',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(status).toBe(400);
    expect(body).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', code: 'invalid_request' },
    });
    expect(JSON.stringify(body)).toContain('speed: \\"fast\\"');
    expect(upstream.received).toHaveLength(0);
    expect(await lastRecord()).toMatchObject({ status: 400, costUsd: 0 });
  });

  it.each(['chat/completions', 'responses'])(
    'refuses OpenAI priority processing on /v1/%s, forwarding nothing',
    async (path) => {
      const { status, body } = await post(path, 'cursor-dev', {
        model: 'gpt-4o-mini',
        service_tier: 'priority',
        ...(path === 'responses' ? { input: 'hi' } : { messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(status).toBe(400);
      expect(body).toMatchObject({ error: { code: 'invalid_request' } });
      expect(JSON.stringify(body)).toContain('service_tier: \\"priority\\"');
      expect(upstream.received).toHaveLength(0);
    },
  );

  it('forwards flex and the standard tiers as they are', async () => {
    for (const tier of ['flex', 'default', 'auto']) {
      const { status } = await post('chat/completions', 'cursor-dev', {
        model: 'gpt-4o-mini',
        service_tier: tier,
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(status).toBe(200);
    }
    expect(upstream.received.map((r) => r.json?.service_tier)).toEqual(['flex', 'default', 'auto']);
  });
});
