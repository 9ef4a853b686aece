import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import {
  anthropicEvents,
  anthropicMessage,
  CANNED,
  type FakeUpstream,
  json,
  sse,
  startFakeUpstream,
} from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

/**
 * The libraries of docs/clients.md, from npm, driven against the gateway as their users do:
 * LangChain's ChatOpenAI, the Vercel AI SDK's OpenAI provider (its default Responses model and
 * `.chat()`) and its Anthropic provider, each streaming and not. Every request must be metered
 * exactly: the usage record's tokens are the fake upstream's reported usage, and its cost those
 * tokens at the prices of standardYaml.
 */

let upstream: FakeUpstream;
let gw: Harness;
let key = '';

/** gpt-4o-mini and claude-house-1 in standardYaml, USD per million tokens. */
const MINI = { input: 0.15, cached: 0.075, output: 0.6 };
const HOUSE = { input: 3, cached: 0.3, output: 15 };

const chatCost = () => {
  const { prompt_tokens, completion_tokens, prompt_tokens_details } = CANNED.chat;
  const cached = prompt_tokens_details.cached_tokens;
  return (
    ((prompt_tokens - cached) * MINI.input + cached * MINI.cached + completion_tokens * MINI.output) / 1e6
  );
};

const responsesCost = () => {
  const { input_tokens, output_tokens, input_tokens_details } = CANNED.responses;
  const cached = input_tokens_details.cached_tokens;
  return ((input_tokens - cached) * MINI.input + cached * MINI.cached + output_tokens * MINI.output) / 1e6;
};

/**
 * Anthropic usage with cache reads but no cache writes: cache writes are priced apart from input
 * where the price list has a write price, and these tests are about the libraries, not that rule.
 */
const MESSAGE_USAGE = {
  input_tokens: 100,
  cache_read_input_tokens: 1000,
  cache_creation_input_tokens: 0,
  cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
  output_tokens: 77,
};
const messagesCost =
  (MESSAGE_USAGE.input_tokens * HOUSE.input +
    MESSAGE_USAGE.cache_read_input_tokens * HOUSE.cached +
    MESSAGE_USAGE.output_tokens * HOUSE.output) /
  1e6;

async function onlyRecord(): Promise<UsageRecord> {
  const records = await gw.waitForRecords(1);
  expect(records).toHaveLength(1);
  return records[0] as UsageRecord;
}

function expectMetered(
  rec: UsageRecord,
  want: { route: string; stream: boolean; input: number; output: number; cached: number; cost: number },
) {
  expect(rec).toMatchObject({
    key: 'cursor-dev',
    route: want.route,
    status: 200,
    stream: want.stream,
    inputTokens: want.input,
    outputTokens: want.output,
    cachedTokens: want.cached,
    usageSource: 'provider',
  });
  expect(Math.abs(rec.costUsd - want.cost)).toBeLessThan(1e-12);
}

const CHAT = {
  route: '/v1/chat/completions',
  input: CANNED.chat.prompt_tokens,
  output: CANNED.chat.completion_tokens,
  cached: CANNED.chat.prompt_tokens_details.cached_tokens,
};
const RESPONSES = {
  route: '/v1/responses',
  input: CANNED.responses.input_tokens,
  output: CANNED.responses.output_tokens,
  cached: CANNED.responses.input_tokens_details.cached_tokens,
};
const MESSAGES = {
  route: '/v1/messages',
  // Anthropic reports cache reads apart from input; the record's input counts every input token.
  input: MESSAGE_USAGE.input_tokens + MESSAGE_USAGE.cache_read_input_tokens,
  output: MESSAGE_USAGE.output_tokens,
  cached: MESSAGE_USAGE.cache_read_input_tokens,
};

beforeAll(async () => {
  upstream = await startFakeUpstream();
  const tiny = '  tiny:\n    hash: {{hash:tiny}}\n    limits: { daily_usd: 0.000001 }\n';
  gw = await startGateway({ yaml: standardYaml(upstream.baseUrl, { keys: tiny }) });
  key = gw.keys['cursor-dev'] as string;
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

beforeEach(() => {
  gw.records.length = 0;
  upstream.reset();
});

describe('LangChain ChatOpenAI (@langchain/openai)', () => {
  const model = (extra: Record<string, unknown> = {}) =>
    new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: key,
      configuration: { baseURL: gw.baseURL },
      maxRetries: 0,
      ...extra,
    });

  it('invokes chat completions and is metered exactly', async () => {
    const msg = await model().invoke('hi');
    expect(msg.content).toBe(CANNED.text.join(''));
    expect(msg.usage_metadata).toMatchObject({ input_tokens: CHAT.input, output_tokens: CHAT.output });
    expectMetered(await onlyRecord(), { ...CHAT, stream: false, cost: chatCost() });
  });

  it('streams with stream_options.include_usage, gets the usage chunk it asked for, and is metered exactly', async () => {
    let text = '';
    let usage: { input_tokens: number; output_tokens: number } | undefined;
    for await (const chunk of await model().stream('hi')) {
      text += String(chunk.content);
      if (chunk.usage_metadata) usage = chunk.usage_metadata;
    }
    expect(text).toBe(CANNED.text.join(''));
    expect(upstream.received[0]?.json?.stream_options).toEqual({ include_usage: true });
    expect(usage).toMatchObject({ input_tokens: CHAT.input, output_tokens: CHAT.output });
    expectMetered(await onlyRecord(), { ...CHAT, stream: true, cost: chatCost() });
  });

  it('uses the Responses API when asked and is metered exactly', async () => {
    const msg = await model({ useResponsesApi: true }).invoke('hi');
    expect(upstream.received[0]?.url).toBe('/v1/responses');
    expect(msg.usage_metadata).toMatchObject({
      input_tokens: RESPONSES.input,
      output_tokens: RESPONSES.output,
    });
    expectMetered(await onlyRecord(), { ...RESPONSES, stream: false, cost: responsesCost() });
  });

  it('streams the Responses API when asked and is metered exactly from response.completed', async () => {
    let text = '';
    let usage: { input_tokens: number; output_tokens: number } | undefined;
    for await (const chunk of await model({ useResponsesApi: true }).stream('hi')) {
      // Responses API chunks carry content blocks; `.text` joins their text.
      text += chunk.text;
      if (chunk.usage_metadata) usage = chunk.usage_metadata;
    }
    expect(text).toBe(CANNED.text.join(''));
    expect(usage).toMatchObject({ input_tokens: RESPONSES.input, output_tokens: RESPONSES.output });
    expectMetered(await onlyRecord(), { ...RESPONSES, stream: true, cost: responsesCost() });
  });

  it("stops at the gateway's insufficient_quota instead of retrying a spent budget", async () => {
    const spent = model({ apiKey: gw.keys.tiny, maxRetries: 3 });
    await expect(spent.invoke('hi')).rejects.toThrow(/daily limit/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(gw.records.map((r) => r.errorCode)).toEqual(['insufficient_quota']);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('Vercel AI SDK with @ai-sdk/openai', () => {
  const openai = () => createOpenAI({ baseURL: gw.baseURL, apiKey: key });

  it('generates text through its default /v1/responses and is metered exactly', async () => {
    const result = await generateText({ model: openai()('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 });
    expect(result.text).toBe(CANNED.text.join(''));
    expect(upstream.received[0]?.url).toBe('/v1/responses');
    expect(result.usage).toMatchObject({ inputTokens: RESPONSES.input, outputTokens: RESPONSES.output });
    expectMetered(await onlyRecord(), { ...RESPONSES, stream: false, cost: responsesCost() });
  });

  it('streams /v1/responses, reads usage from response.completed, and is metered exactly', async () => {
    const result = streamText({ model: openai()('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 });
    let text = '';
    for await (const part of result.textStream) text += part;
    expect(text).toBe(CANNED.text.join(''));
    expect(await result.usage).toMatchObject({
      inputTokens: RESPONSES.input,
      outputTokens: RESPONSES.output,
    });
    expectMetered(await onlyRecord(), { ...RESPONSES, stream: true, cost: responsesCost() });
  });

  it('generates text through .chat() (chat completions) and is metered exactly', async () => {
    const result = await generateText({ model: openai().chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 });
    expect(result.text).toBe(CANNED.text.join(''));
    expect(upstream.received[0]?.url).toBe('/v1/chat/completions');
    expect(result.usage).toMatchObject({ inputTokens: CHAT.input, outputTokens: CHAT.output });
    expectMetered(await onlyRecord(), { ...CHAT, stream: false, cost: chatCost() });
  });

  it('streams through .chat() and is metered exactly', async () => {
    const result = streamText({ model: openai().chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 });
    let text = '';
    for await (const part of result.textStream) text += part;
    expect(text).toBe(CANNED.text.join(''));
    expect(await result.usage).toMatchObject({ inputTokens: CHAT.input, outputTokens: CHAT.output });
    expectMetered(await onlyRecord(), { ...CHAT, stream: true, cost: chatCost() });
  });
});

describe('Vercel AI SDK retries', () => {
  it('retries a spent budget (it ignores x-should-retry), and every try is refused without reaching the upstream', async () => {
    const openai = createOpenAI({ baseURL: gw.baseURL, apiKey: gw.keys.tiny as string });
    await expect(
      generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 1 }),
    ).rejects.toThrow(/daily limit/);
    const records = await gw.waitForRecords(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(records.map((r) => r.errorCode)).toEqual(['insufficient_quota', 'insufficient_quota']);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('Vercel AI SDK with @ai-sdk/anthropic', () => {
  // The Anthropic provider appends /messages to its base URL, so the base includes /v1.
  const anthropic = () => createAnthropic({ baseURL: gw.baseURL, apiKey: key });

  it('generates a message and is metered exactly', async () => {
    upstream.next(json(200, anthropicMessage('claude-house-1', MESSAGE_USAGE)));
    const result = await generateText({ model: anthropic()('claude-house-1'), prompt: 'hi', maxRetries: 0 });
    expect(result.text).toBe(CANNED.text.join(''));
    expect(upstream.received[0]?.url).toBe('/v1/messages');
    expect(upstream.received[0]?.headers['x-api-key']).toBe('sk-ant-upstream-secret');
    expectMetered(await onlyRecord(), { ...MESSAGES, stream: false, cost: messagesCost });
  });

  it('streams a message and is metered exactly from message_start and message_delta', async () => {
    upstream.next(sse(anthropicEvents('claude-house-1', MESSAGE_USAGE)));
    const result = streamText({ model: anthropic()('claude-house-1'), prompt: 'hi', maxRetries: 0 });
    let text = '';
    for await (const part of result.textStream) text += part;
    expect(text).toBe(CANNED.text.join(''));
    expect((await result.usage).outputTokens).toBe(MESSAGE_USAGE.output_tokens);
    expectMetered(await onlyRecord(), { ...MESSAGES, stream: true, cost: messagesCost });
  });
});
