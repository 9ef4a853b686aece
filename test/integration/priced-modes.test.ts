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

  it.each([
    ['chat/completions', 'priority'],
    ['responses', 'priority'],
    ['chat/completions', 'fast'],
    ['responses', 'ultrafast'],
  ])(
    'refuses OpenAI priority processing on /v1/%s (service_tier %s), forwarding nothing',
    async (path, tier) => {
      const { status, body } = await post(path, 'cursor-dev', {
        model: 'gpt-4o-mini',
        service_tier: tier,
        ...(path === 'responses' ? { input: 'hi' } : { messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(status).toBe(400);
      expect(body).toMatchObject({ error: { code: 'invalid_request' } });
      expect(JSON.stringify(body)).toContain(`service_tier: \\"${tier}\\"`);
      expect(upstream.received).toHaveLength(0);
    },
  );

  it('refuses a body that names a field twice (read two ways by parsers), forwarding nothing', async () => {
    // JSON.parse keeps the last copy: the gateway would bound 100 tokens and a parser keeping the
    // first would run 16,000.
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.keys['cursor-dev']}`, 'content-type': 'application/json' },
      body: '{"model":"gpt-4o-mini","max_completion_tokens":16000,"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":100}',
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'invalid_request' } });
    expect(text).toContain('max_completion_tokens');
    expect(upstream.received).toHaveLength(0);
  });

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

describe("OpenAI's own API: the project's default tier", () => {
  let openai: Harness;

  beforeAll(async () => {
    // The same fake, named as OpenAI's API: a project whose default tier is priority would bill a
    // request without service_tier at priority prices.
    const yaml = standardYaml(upstream.baseUrl).replace(
      `  openai:\n    base_url: ${upstream.baseUrl}\n`,
      `  openai:\n    base_url: ${upstream.baseUrl}\n    provider: openai\n`,
    );
    expect(yaml).toContain('provider: openai');
    openai = await startGateway({ yaml });
  });

  afterAll(async () => {
    await openai.close();
  });

  async function send(path: string, body: Record<string, unknown>) {
    const res = await fetch(`${openai.baseURL}/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${openai.keys['cursor-dev']}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        ...(path === 'responses' ? { input: 'hi' } : { messages: [{ role: 'user', content: 'hi' }] }),
        ...body,
      }),
    });
    return { status: res.status, text: await res.text() };
  }

  it.each(['chat/completions', 'responses'])(
    'sends /v1/%s without a tier, or with auto, as the standard tier',
    async (path) => {
      expect((await send(path, {})).status).toBe(200);
      expect((await send(path, { service_tier: 'auto' })).status).toBe(200);
      expect((await send(path, { service_tier: 'auto', stream: true })).status).toBe(200);
      expect(upstream.received.map((r) => r.json?.service_tier)).toEqual(['default', 'default', 'default']);
    },
  );

  it('forwards the standard tier, flex and scale as they are, and refuses a tier it has no price for', async () => {
    for (const tier of ['default', 'flex', 'scale'])
      expect((await send('chat/completions', { service_tier: tier })).status).toBe(200);
    expect(upstream.received.map((r) => r.json?.service_tier)).toEqual(['default', 'flex', 'scale']);
    for (const tier of ['priority', 'fast', 'standard', 42]) {
      const { status, text } = await send('responses', { service_tier: tier });
      expect(status).toBe(400);
      expect(text).toContain(`service_tier: ${JSON.stringify(JSON.stringify(tier)).slice(1, -1)}`);
    }
    // A tier it does not know is named, not called a multiple; a long value is cut, not echoed whole.
    const { text } = await send('responses', { service_tier: 'x'.repeat(10_000) });
    expect(text).toContain('which tollgate has no price for');
    expect(text.length).toBeLessThan(600);
    expect(upstream.received).toHaveLength(3);
  });

  it('adds the tier to the client’s own bytes, so what JSON.parse cannot keep goes as sent', async () => {
    // An integer above 2^53 and integer-like keys in a schema would change if the body were serialized again.
    const raw = `{"model":"gpt-4o-mini","seed":12345678901234567891,"max_completion_tokens":100,"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","properties":{"b":{},"10":{}}}}},"messages":[{"role":"user","content":"hi"}]}`;
    const res = await fetch(`${openai.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${openai.keys['cursor-dev']}`, 'content-type': 'application/json' },
      body: raw,
    });
    expect(res.status).toBe(200);
    expect(upstream.received[0]?.body).toBe(`{"service_tier":"default",${raw.slice(1)}`);
  });

  it('leaves the other routes and other providers alone', async () => {
    // Embeddings take no tier; the harness's other gateway names no provider (a proxy, a local server).
    const emb = await fetch(`${openai.baseURL}/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${openai.keys['cursor-dev']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hi' }),
    });
    expect(emb.status).toBe(200);
    expect(
      (await post('chat/completions', 'cursor-dev', { model: 'gpt-4o-mini', messages: [] })).status,
    ).toBe(200);
    expect(upstream.received.map((r) => 'service_tier' in (r.json ?? {}))).toEqual([false, false]);
  });
});
