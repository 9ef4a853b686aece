import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { CANNED, type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

/*
 * Responses API hosted tools billed apart from tokens (docs/api.md#hosted-tools): taken out of a
 * request that only advertises them, as Codex does with image_generation in every request, and
 * refused when forced, before anything is reserved or forwarded.
 */

let upstream: FakeUpstream;
let gw: Harness;
let client: OpenAI;

const GPT = { input: 0.15, cached: 0.075, output: 0.6 };
const { input_tokens, output_tokens, input_tokens_details } = CANNED.responses;
const CANNED_COST =
  ((input_tokens - input_tokens_details.cached_tokens) * GPT.input +
    input_tokens_details.cached_tokens * GPT.cached +
    output_tokens * GPT.output) /
  1e6;

const shell: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'shell',
  description: 'Runs a shell command',
  strict: false,
  parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } } } },
};

/** What Codex sends: streaming, no output limit, its function tools and image_generation by default. */
const codexRequest = {
  model: 'gpt-4o-mini',
  instructions: 'You are a coding agent.',
  input: [
    {
      type: 'message' as const,
      role: 'user' as const,
      content: [{ type: 'input_text' as const, text: 'hi' }],
    },
  ],
  tool_choice: 'auto' as const,
  parallel_tool_calls: false,
  store: false,
  stream: true as const,
  include: ['reasoning.encrypted_content' as const],
};

async function lastRecord(): Promise<UsageRecord> {
  const records = await gw.waitForRecords(1);
  return records.at(-1) as UsageRecord;
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

describe('Responses API hosted tools tollgate does not meter', () => {
  it("sends Codex's request without the image_generation tool it advertises, and says so", async () => {
    const { data: stream, response } = await client.responses
      .create({ ...codexRequest, tools: [shell, { type: 'image_generation', output_format: 'png' }] })
      .withResponse();
    let text = '';
    for await (const e of stream) if (e.type === 'response.output_text.delta') text += e.delta;
    expect(text).toBe('Hello, world!');
    expect(response.headers.get('x-tollgate-tools-removed')).toBe('image_generation');
    const sent = upstream.received[0]?.json;
    expect(sent?.tools).toEqual([shell]);
    // The rest of the body as the client sent it, with the output bound written in as for any request.
    expect(sent).toMatchObject({
      tool_choice: 'auto',
      parallel_tool_calls: false,
      store: false,
      stream: true,
    });
    expect(sent?.max_output_tokens).toBe(16384);
    const rec = await lastRecord();
    expect(rec).toMatchObject({
      route: '/v1/responses',
      status: 200,
      errorCode: null,
      stream: true,
      inputTokens: input_tokens,
      outputTokens: output_tokens,
      cachedTokens: input_tokens_details.cached_tokens,
      usageSource: 'provider',
    });
    expect(Math.abs(rec.costUsd - CANNED_COST)).toBeLessThan(1e-9);
  });

  it('sends a request whose only tools are removed ones without tools, keeping its web search bounded', async () => {
    const { response } = await client.responses
      .create({
        ...codexRequest,
        stream: false,
        tools: [
          { type: 'code_interpreter', container: { type: 'auto' } },
          { type: 'file_search', vector_store_ids: ['vs_1'] },
        ],
      })
      .withResponse();
    expect(response.headers.get('x-tollgate-tools-removed')).toBe('code_interpreter,file_search');
    expect(upstream.received[0]?.json).not.toHaveProperty('tools');

    await client.responses.create({
      ...codexRequest,
      stream: false,
      tools: [{ type: 'image_generation' }, { type: 'web_search' }],
    });
    expect(upstream.received[1]?.json).toMatchObject({ tools: [{ type: 'web_search' }], max_tool_calls: 10 });
  });

  it('refuses a request that forces image_generation before anything is reserved or forwarded', async () => {
    const err = await client.responses
      .create({
        ...codexRequest,
        tools: [shell, { type: 'image_generation', output_format: 'png' }],
        tool_choice: { type: 'image_generation' },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('invalid_request');
    const message = String((err as Error).message);
    expect(message).toContain('tool_choice');
    expect(message).toContain('image_generation');
    expect(message).toContain('docs/api.md#hosted-tools');
    expect(upstream.received).toHaveLength(0);
    expect(await lastRecord()).toMatchObject({
      status: 400,
      errorCode: 'invalid_request',
      costUsd: 0,
      requestedModel: 'gpt-4o-mini',
    });
  });
});
