import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/keys/format.js';
import type { UsageRecord } from '../../src/store/types.js';
import { CANNED, type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

let upstream: FakeUpstream;
let gw: Harness;
let client: OpenAI;

const GPT = { input: 0.15, cached: 0.075, output: 0.6 };

async function lastRecord(): Promise<UsageRecord> {
  const records = await gw.waitForRecords(1);
  return records.at(-1) as UsageRecord;
}

function expectCost(actual: number, expected: number) {
  expect(Math.abs(actual - expected)).toBeLessThan(1e-9);
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: standardYaml(upstream.baseUrl) });
  client = new OpenAI({ apiKey: gw.keys['cursor-dev'], baseURL: gw.baseURL, maxRetries: 0 });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

beforeEach(() => {
  gw.records.length = 0;
  upstream.received.length = 0;
});

describe('the gateway with the official openai SDK', () => {
  it('answers a plain chat completion and meters the provider usage to the nanodollar', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello, world!');
    expect(response.headers.get('x-tollgate-key')).toBe('cursor-dev');
    expect(response.headers.get('x-tollgate-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('1000');
    const rec = await lastRecord();
    expect(rec).toMatchObject({
      key: 'cursor-dev',
      model: 'gpt-4o-mini',
      upstream: 'openai',
      route: '/v1/chat/completions',
      status: 200,
      errorCode: null,
      inputTokens: 1200,
      outputTokens: 345,
      cachedTokens: 200,
      stream: false,
      usageSource: 'provider',
      configRevision: 'test-rev',
      requestId: response.headers.get('x-tollgate-request-id'),
      requestedModel: 'gpt-4o-mini',
      keyHash: hashKey(gw.keys['cursor-dev'] as string).slice('sha256:'.length, 'sha256:'.length + 12),
    });
    expect(rec.userAgent).toMatch(/OpenAI/i);
    expect(rec.ip).toBe('127.0.0.1');
    expectCost(rec.costUsd, ((1200 - 200) * GPT.input + 200 * GPT.cached + 345 * GPT.output) / 1e6);
  });

  it('streams a chat completion, hiding the usage chunk it asked for from a client that did not', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello, world!');
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
    expect(upstream.received[0]?.json?.stream_options).toEqual({ include_usage: true });
    const rec = await lastRecord();
    expect(rec).toMatchObject({
      stream: true,
      inputTokens: 1200,
      outputTokens: 345,
      cachedTokens: 200,
      usageSource: 'provider',
    });
    expectCost(rec.costUsd, ((1200 - 200) * GPT.input + 200 * GPT.cached + 345 * GPT.output) / 1e6);
  });

  it('passes the usage chunk to a client that asked for it', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const usageChunk = chunks.find((c) => c.choices.length === 0);
    expect(usageChunk?.usage?.prompt_tokens).toBe(1200);
    expect((await lastRecord()).usageSource).toBe('provider');
  });

  it('meters a legacy completion', async () => {
    const out = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'say hi', max_tokens: 20 });
    expect(out.choices[0]?.text).toBe('Hello, world!');
    const rec = await lastRecord();
    expect(rec).toMatchObject({ route: '/v1/completions', inputTokens: 50, outputTokens: 7 });
    expectCost(rec.costUsd, (50 * GPT.input + 7 * GPT.output) / 1e6);
  });

  it('meters embeddings by their prompt tokens', async () => {
    const out = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'hello',
      encoding_format: 'float',
    });
    expect(out.data[0]?.embedding).toEqual([0.1, 0.2, 0.3]);
    const rec = await lastRecord();
    expect(rec).toMatchObject({
      route: '/v1/embeddings',
      inputTokens: CANNED.embeddings.prompt_tokens,
      outputTokens: 0,
    });
    expectCost(rec.costUsd, (9 * 0.02) / 1e6);
  });

  it('meters a Responses API call, plain and streamed, with cached input', async () => {
    const out = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi' });
    expect(out.output_text).toBe('Hello, world!');
    const expected = ((800 - 300) * GPT.input + 300 * GPT.cached + 120 * GPT.output) / 1e6;
    let rec = await lastRecord();
    expect(rec).toMatchObject({
      route: '/v1/responses',
      inputTokens: 800,
      outputTokens: 120,
      cachedTokens: 300,
    });
    expectCost(rec.costUsd, expected);

    gw.records.length = 0;
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
    let text = '';
    for await (const e of stream) if (e.type === 'response.output_text.delta') text += e.delta;
    expect(text).toBe('Hello, world!');
    rec = await lastRecord();
    expect(rec).toMatchObject({
      stream: true,
      inputTokens: 800,
      outputTokens: 120,
      cachedTokens: 300,
      usageSource: 'provider',
    });
    expectCost(rec.costUsd, expected);
  });

  it('refuses a background response, which would be generated after the request and never metered', async () => {
    const err = await client.responses.create({ model: 'gpt-4o-mini', input: 'hi', background: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('invalid_request');
    expect(String((err as Error).message)).toContain('background');
    expect(upstream.received).toHaveLength(0);
    expect(await lastRecord()).toMatchObject({ status: 400, errorCode: 'invalid_request', costUsd: 0 });
  });

  it('lists only the models the key may use', async () => {
    const claude = new OpenAI({ apiKey: gw.keys['claude-code'], baseURL: gw.baseURL, maxRetries: 0 });
    const ids = [];
    for await (const m of claude.models.list()) ids.push(m.id);
    expect(ids).toEqual(['gpt-4o-mini', 'claude-house-1']);
    expect(upstream.received).toHaveLength(0);
    const rec = await lastRecord();
    expect(rec).toMatchObject({ key: 'claude-code', route: '/v1/models', status: 200, costUsd: 0 });
  });

  it('sends the upstream key and never the client key or cookies upstream', async () => {
    await client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
      {
        headers: {
          cookie: 'session=abc',
          'x-api-key': gw.keys['cursor-dev'],
          'api-key': 'zzz',
          'x-forwarded-for': '10.0.0.1',
        },
      },
    );
    const got = upstream.received[0];
    expect(got?.headers.authorization).toBe('Bearer sk-upstream-openai-secret');
    expect(got?.headers['x-api-key']).toBeUndefined();
    expect(got?.headers['api-key']).toBeUndefined();
    expect(got?.headers.cookie).toBeUndefined();
    expect(got?.headers['x-forwarded-for']).toBeUndefined();
    expect(got?.headers['accept-encoding']).toBe('identity');
    expect(JSON.stringify(got?.headers)).not.toContain(gw.keys['cursor-dev']);
    expect(got?.url).toBe('/v1/chat/completions');
  });

  it('never sends upstream what an identity-aware proxy or a CDN in front of the gateway adds', async () => {
    // Cloudflare Access (service token, JWT), AWS ALB OIDC, oauth2-proxy, Google IAP (JWT, user email
    // and id), Pomerium, Azure App Service authentication, and CDNs' client-address headers.
    const added = {
      'cf-access-client-id': 'id.access',
      'cf-access-client-secret': 'cf-service-token-secret',
      'cf-access-jwt-assertion': 'eyJ.cf.jwt',
      'x-amzn-oidc-accesstoken': 'alb-user-access-token',
      'x-amzn-oidc-data': 'eyJ.alb.claims',
      'x-amzn-oidc-identity': 'user-123',
      'x-auth-request-access-token': 'oauth2-proxy-access-token',
      'x-auth-request-email': 'dev@example.com',
      'x-goog-iap-jwt-assertion': 'eyJ.iap.jwt',
      'x-goog-authenticated-user-email': 'accounts.google.com:dev@example.com',
      'x-goog-authenticated-user-id': 'accounts.google.com:118230456789012345678',
      'x-pomerium-jwt-assertion': 'eyJ.pomerium.jwt',
      'x-ms-token-aad-access-token': 'aad-access-token',
      'x-ms-client-principal': 'eyJwcmluY2lwYWwi',
      'cf-connecting-ip': '203.0.113.7',
      'true-client-ip': '203.0.113.7',
    };
    await client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
      { headers: { ...added, 'openai-beta': 'assistants=v2' } },
    );
    const got = upstream.received[0]?.headers ?? {};
    for (const name of Object.keys(added)) expect(got[name], name).toBeUndefined();
    expect(got['openai-beta']).toBe('assistants=v2');
  });

  it('forwards the client body byte for byte when it needs no change', async () => {
    const body = '{"model":"gpt-4o-mini",  "messages":[{"role":"user","content":"hi"}], "max_tokens": 5}';
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.keys['cursor-dev']}`, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    expect(upstream.received[0]?.body).toBe(body);
  });

  it('keeps no key or prompt text in its logs', async () => {
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'my-secret-prompt-text' }],
    });
    await lastRecord();
    const logs = gw.logLines.join('\n');
    expect(logs).toContain('"msg":"request"');
    expect(logs).not.toContain('my-secret-prompt-text');
    expect(logs).not.toContain('Hello, world');
    expect(logs).not.toContain(gw.keys['cursor-dev']);
    expect(logs).not.toContain('sk-upstream-openai-secret');
  });
});
