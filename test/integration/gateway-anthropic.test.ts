import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { CANNED, type FakeUpstream, json, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

let upstream: FakeUpstream;
let gw: Harness;

const SONNET = { input: 3, cached: 0.3, output: 15 };
/**
 * Anthropic input = uncached + cache reads + cache writes; cached = cache reads. claude-house-1 is
 * not in the catalog, so its writes take the anthropic-format defaults: 1.25 x input for
 * 5-minute writes, 2 x for 1-hour ones.
 */
const EXPECTED_COST =
  (CANNED.messages.input_tokens * SONNET.input +
    CANNED.messages.cache_creation.ephemeral_5m_input_tokens * SONNET.input * 1.25 +
    CANNED.messages.cache_creation.ephemeral_1h_input_tokens * SONNET.input * 2 +
    CANNED.messages.cache_read_input_tokens * SONNET.cached +
    CANNED.messages.output_tokens * SONNET.output) /
  1e6;

async function lastRecord(): Promise<UsageRecord> {
  return (await gw.waitForRecords(1)).at(-1) as UsageRecord;
}

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
  upstream.received.length = 0;
});

describe('the gateway with the official Anthropic SDK', () => {
  it('answers a plain message, counting cache reads and writes as input and pricing each kind apart', async () => {
    const client = new Anthropic({ apiKey: gw.keys['claude-code'], baseURL: gw.url, maxRetries: 0 });
    const msg = await client.messages.create({
      model: 'claude-house-1',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(msg.content[0]?.type === 'text' && msg.content[0].text).toBe('Hello, world!');
    const rec = await lastRecord();
    expect(rec).toMatchObject({
      key: 'claude-code',
      route: '/v1/messages',
      upstream: 'anthropic',
      inputTokens: 1150,
      cachedTokens: 1000,
      cacheWriteTokens: 50,
      outputTokens: 77,
      usageSource: 'provider',
    });
    expect(Math.abs(rec.costUsd - EXPECTED_COST)).toBeLessThan(1e-9);
  });

  it('streams a message and meters message_start and message_delta', async () => {
    const client = new Anthropic({ apiKey: gw.keys['claude-code'], baseURL: gw.url, maxRetries: 0 });
    const stream = client.messages.stream({
      model: 'claude-house-1',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    await stream.finalMessage();
    expect(text).toBe('Hello, world!');
    const rec = await lastRecord();
    expect(rec).toMatchObject({
      stream: true,
      inputTokens: 1150,
      cachedTokens: 1000,
      cacheWriteTokens: 50,
      outputTokens: 77,
      usageSource: 'provider',
    });
    expect(Math.abs(rec.costUsd - EXPECTED_COST)).toBeLessThan(1e-9);
  });

  it('accepts the key as x-api-key as Claude Code sends it, and sets the upstream key the same way', async () => {
    const res = await fetch(`${gw.baseURL}/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': gw.keys['claude-code'] as string,
        'content-type': 'application/json',
        'anthropic-beta': 'prompt-caching-2024-07-31',
      },
      body: JSON.stringify({
        model: 'claude-house-1',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(res.status).toBe(200);
    const got = upstream.received[0];
    expect(got?.headers['x-api-key']).toBe('sk-ant-upstream-secret');
    expect(got?.headers.authorization).toBeUndefined();
    expect(got?.headers['anthropic-version']).toBe('2023-06-01');
    expect(got?.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
  });

  it("passes the client's anthropic-version through", async () => {
    const client = new Anthropic({ apiKey: gw.keys['claude-code'], baseURL: gw.url, maxRetries: 0 });
    await client.messages.create({
      model: 'claude-house-1',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const got = upstream.received[0];
    expect(got?.headers['anthropic-version']).toBeDefined();
    expect(got?.headers['anthropic-version']).not.toBe('');
    expect(got?.headers['x-api-key']).toBe('sk-ant-upstream-secret');
    expect(JSON.stringify(got?.headers)).not.toContain(gw.keys['claude-code']);
  });

  it('counts tokens for free', async () => {
    const client = new Anthropic({ apiKey: gw.keys['claude-code'], baseURL: gw.url, maxRetries: 0 });
    const out = await client.messages.countTokens({
      model: 'claude-house-1',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(out.input_tokens).toBe(42);
    const rec = await lastRecord();
    expect(rec).toMatchObject({ route: '/v1/messages/count_tokens', status: 200, costUsd: 0 });
  });

  it('refuses with Anthropic-shaped errors that the SDK understands', async () => {
    const client = new Anthropic({ apiKey: gw.keys['claude-code'], baseURL: gw.url, maxRetries: 0 });
    const err = await client.messages
      .create({ model: 'gpt-5-nonexistent', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    const body = (err as { error: { type: string; error: { type: string; message: string; code: string } } })
      .error;
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('not_found_error');
    expect(body.error.code).toBe('model_not_found');
    expect(body.error.message).toContain("key 'claude-code'");
  });

  it('gives the Anthropic SDK an authentication error for an unknown key', async () => {
    const client = new Anthropic({ apiKey: 'sk-ant-not-ours', baseURL: gw.url, maxRetries: 0 });
    const err = await client.messages
      .create({ model: 'claude-house-1', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as { error: { error: { type: string; code: string } } }).error.error).toMatchObject({
      type: 'authentication_error',
      code: 'invalid_api_key',
    });
  });

  it('passes an upstream 529 overloaded answer through unchanged', async () => {
    const body = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
    upstream.next(json(529, body));
    const res = await fetch(`${gw.baseURL}/messages`, {
      method: 'POST',
      headers: { 'x-api-key': gw.keys['claude-code'] as string, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-house-1',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(res.status).toBe(529);
    expect(await res.text()).toBe(JSON.stringify(body));
    expect(res.headers.get('x-tollgate-key')).toBe('claude-code');
    const rec = await lastRecord();
    expect(rec).toMatchObject({ status: 529, errorCode: 'upstream_529', costUsd: 0 });
  });
});
