import { type AddressInfo, createServer } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { type FakeUpstream, hang, resetNow, sse, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * docs/api.md#metering-briefly: a request the client abandons is still metered. What the provider bills then
 * is not always in the text the gateway saw: a non-streamed answer is generated (and billed, OpenAI finishes
 * it) whether or not anyone waits for it, and a reasoning model bills the tokens it thought before any text.
 * Those are charged their reservation (`usage_source: reserved`), which bounds what the provider can bill; a
 * plain stream is still charged from its text.
 *
 * Prices make the money easy to follow: input is free and each output token costs $0.001, so
 * a request bounded at 10 output tokens reserves exactly $0.01.
 */
const price = '    input_per_mtok: 0\n    output_per_mtok: 1000\n';
const yaml = (base: string, tarpit: string) => `version: 1
upstreams:
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
  anthropic:
    base_url: ${base}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
  tarpit:
    base_url: ${tarpit}
    api_key: \${OPENAI_API_KEY}
  slow-openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    timeout_ms: 300
models:
  unit:
    upstream: openai
${price}  slow:
    upstream: slow-openai
${price}  tarpitted:
    upstream: tarpit
${price}  o4-house:
    upstream: openai
${price}  claude-house:
    upstream: anthropic
${price}keys:
  tool:
    hash: {{hash:tool}}
    limits: { daily_usd: 1 }
`;

const ev = (type: string, data: Record<string, unknown>) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

describe('an exchange cut before the provider reported its usage', () => {
  let up: FakeUpstream;
  let gw: Harness;
  // Accepts TCP connections and never answers: a TLS handshake that never completes.
  const tarpit = createServer(() => {});
  beforeAll(async () => {
    up = await startFakeUpstream();
    await new Promise<void>((r) => tarpit.listen(0, '127.0.0.1', r));
    const { port } = tarpit.address() as AddressInfo;
    gw = await startGateway({ yaml: yaml(up.baseUrl, `https://127.0.0.1:${port}/v1`) });
  });
  afterEach(() => {
    gw.records.length = 0;
    up.reset();
  });
  afterAll(async () => {
    await gw.close();
    await up.close();
    tarpit.close();
  });

  const openai = () => new OpenAI({ apiKey: gw.keys.tool, baseURL: gw.baseURL, maxRetries: 0 });

  /** Starts `send` with an abort signal, aborts once the upstream has the request, returns the record. */
  async function abandon(send: (signal: AbortSignal) => Promise<unknown>, after = 1): Promise<UsageRecord> {
    const ac = new AbortController();
    const pending = send(ac.signal).catch((e: unknown) => e);
    await up.waitForRequests(after);
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await pending;
    const [rec] = await gw.waitForRecords(1);
    return rec as UsageRecord;
  }

  it('charges the reservation for a non-streamed request whose client left: the provider finishes and bills it', async () => {
    up.next(hang);
    const rec = await abandon((signal) =>
      openai().chat.completions.create(
        { model: 'unit', max_tokens: 10, messages: [{ role: 'user', content: 'a long essay' }] },
        { signal },
      ),
    );
    expect(up.abortedAt).toHaveLength(1);
    expect(rec).toMatchObject({ status: 499, usageSource: 'reserved', outputTokens: 10 });
    expect(rec.costUsd).toBeCloseTo(0.01, 12);
  });

  it('charges the estimate, not the reservation, when the upstream itself broke the connection off', async () => {
    up.next(resetNow);
    const failed = await openai()
      .chat.completions.create({ model: 'unit', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OpenAI.InternalServerError);
    const [rec] = await gw.waitForRecords(1);
    // The upstream failed the request itself: not a generation a provider bills (input only).
    expect(rec).toMatchObject({ status: 502, usageSource: 'estimated', outputTokens: 0 });
    expect(rec?.costUsd).toBe(0);
  });

  it('charges no reservation when the client left before the request went out (TLS handshake pending)', async () => {
    const ac = new AbortController();
    const pending = openai()
      .chat.completions.create(
        { model: 'tarpitted', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] },
        { signal: ac.signal },
      )
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 150));
    ac.abort();
    await pending;
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({ status: 499 });
    // The upstream never had the request: nothing to generate, nothing billed beyond the estimate.
    expect(rec?.usageSource).not.toBe('reserved');
    expect(rec?.costUsd).toBe(0);
  });

  it('charges the reservation for a non-streamed request the gateway cut at its upstream timeout', async () => {
    up.next(hang);
    const failed = await openai()
      .chat.completions.create({ model: 'slow', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OpenAI.APIError);
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({ status: 504, usageSource: 'reserved', outputTokens: 10 });
    expect(rec?.costUsd).toBeCloseTo(0.01, 12);
  });

  it('does not charge the reservation for an error answer whose body stalled until the timeout', async () => {
    up.next((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.write('{"error":');
    });
    const failed = await openai()
      .chat.completions.create({ model: 'slow', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(failed).toBeDefined();
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({ status: 504 });
    expect(rec?.usageSource).not.toBe('reserved');
    expect(rec?.costUsd).toBe(0);
  });

  it('charges the output bound for a Responses stream cut while the model reasons, which shows no text', async () => {
    const response = { id: 'resp_1', object: 'response', status: 'in_progress', output: [], usage: null };
    up.next(
      sse(
        [
          ev('response.created', { response, sequence_number: 0 }),
          ev('response.output_item.added', {
            output_index: 0,
            item: { type: 'reasoning', id: 'rs_1', summary: [] },
            sequence_number: 1,
          }),
        ],
        { hangAfter: 2 },
      ),
    );
    const rec = await abandon(async (signal) => {
      const stream = await openai().responses.create(
        { model: 'unit', max_output_tokens: 10, input: 'think hard', stream: true },
        { signal },
      );
      for await (const _ of stream);
    });
    expect(rec).toMatchObject({ status: 499, usageSource: 'reserved', outputTokens: 10 });
    expect(rec.costUsd).toBeCloseTo(0.01, 12);
  });

  it('charges the output bound for a chat stream of a model that reasons by default, cut before its text', async () => {
    up.next(
      sse(
        [{ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant' } }] }],
        {
          hangAfter: 1,
        },
      ),
    );
    const rec = await abandon(async (signal) => {
      const stream = await openai().chat.completions.create(
        {
          model: 'o4-house',
          max_completion_tokens: 10,
          stream: true,
          messages: [{ role: 'user', content: 'x' }],
        },
        { signal },
      );
      for await (const _ of stream);
    });
    expect(rec).toMatchObject({ status: 499, usageSource: 'reserved', outputTokens: 10 });
  });

  it('keeps the provider input count and charges the output bound for an Anthropic stream cut while thinking', async () => {
    up.next(
      sse(
        [
          ev('message_start', {
            message: {
              id: 'm',
              type: 'message',
              role: 'assistant',
              content: [],
              usage: { input_tokens: 40, output_tokens: 1 },
            },
          }),
          ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } }),
          // Claude 4 streams a summary of its thinking and bills all of it.
          ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Let me see.' } }),
        ],
        { hangAfter: 3 },
      ),
    );
    const client = new Anthropic({ apiKey: gw.keys.tool, baseURL: gw.url, maxRetries: 0 });
    const rec = await abandon(async (signal) => {
      const stream = await client.messages.create(
        {
          model: 'claude-house',
          max_tokens: 10,
          thinking: { type: 'enabled', budget_tokens: 8 },
          stream: true,
          messages: [{ role: 'user', content: 'x' }],
        },
        { signal },
      );
      for await (const _ of stream);
    });
    expect(rec).toMatchObject({ status: 499, usageSource: 'reserved', inputTokens: 40, outputTokens: 10 });
    expect(rec.costUsd).toBeCloseTo(0.01, 12);
  });

  it('still charges a plain stream from its text: the text is all the provider billed', async () => {
    const chunk = (content: string) => ({
      id: 'c',
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
    });
    up.next(sse([chunk('abcd'), chunk('efgh')], { hangAfter: 2 }));
    const rec = await abandon(async (signal) => {
      const stream = await openai().chat.completions.create(
        { model: 'unit', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'x' }] },
        { signal },
      );
      for await (const _ of stream);
    });
    expect(rec).toMatchObject({ status: 499, usageSource: 'estimated', outputTokens: 2 });
    expect(rec.costUsd).toBeCloseTo(0.002, 12);
  });
});
