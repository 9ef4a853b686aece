import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

/*
 * Anthropic's code execution server tool, billed per container-hour apart from tokens
 * (docs/api.md#hosted-tools): taken out of a /v1/messages request that only advertises it, refused
 * when forced, before anything is reserved or forwarded.
 */

let upstream: FakeUpstream;
let gw: Harness;
let client: Anthropic;

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } } },
};
const bash: Anthropic.ToolBash20250124 = { type: 'bash_20250124', name: 'bash' };
const search: Anthropic.WebSearchTool20250305 = {
  type: 'web_search_20250305',
  name: 'web_search',
  max_uses: 2,
};
const codeExecution = { type: 'code_execution_20250522', name: 'code_execution' } as const;
const base = {
  model: 'claude-house-1',
  max_tokens: 100,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

async function lastRecord(): Promise<UsageRecord> {
  return (await gw.waitForRecords(1)).at(-1) as UsageRecord;
}

/** The request as the SDK sends it, whatever its types list of server tools (beta ones included). */
const withTools = (extra: Record<string, unknown>) =>
  ({ ...base, ...extra }) as Anthropic.MessageCreateParamsNonStreaming;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: standardYaml(upstream.baseUrl) });
  client = new Anthropic({ apiKey: gw.keys['claude-code'], baseURL: gw.url, maxRetries: 0 });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

beforeEach(() => {
  gw.records.length = 0;
  upstream.received.length = 0;
});

describe("Anthropic's code execution tool, which tollgate does not meter", () => {
  it('sends the request without it, the other tools in their order, and says so', async () => {
    const { data: msg, response } = await client.messages
      .create(withTools({ tools: [weather, codeExecution, bash, search], tool_choice: { type: 'auto' } }))
      .withResponse();
    expect(msg.content[0]?.type === 'text' && msg.content[0].text).toBe('Hello, world!');
    expect(response.headers.get('x-tollgate-tools-removed')).toBe('code_execution_20250522');
    const sent = upstream.received[0]?.json;
    expect(sent?.tools).toEqual([weather, bash, search]);
    expect(sent?.tool_choice).toEqual({ type: 'auto' });
    expect(await lastRecord()).toMatchObject({ route: '/v1/messages', status: 200, usageSource: 'provider' });
  });

  it('sends a request whose only tool was code execution without tools and without tool_choice', async () => {
    const { response } = await client.messages
      .create(
        withTools({
          tools: [{ type: 'code_execution_20250825', name: 'code_execution' }],
          tool_choice: { type: 'auto' },
        }),
      )
      .withResponse();
    expect(response.headers.get('x-tollgate-tools-removed')).toBe('code_execution_20250825');
    const sent = upstream.received[0]?.json;
    expect(sent).not.toHaveProperty('tools');
    expect(sent).not.toHaveProperty('tool_choice');
    expect(sent?.messages).toEqual(base.messages);
  });

  it('refuses a request that forces it, Anthropic-shaped, with nothing forwarded', async () => {
    for (const tool_choice of [{ type: 'tool', name: 'code_execution' }, { type: 'any' }]) {
      const tools = tool_choice.type === 'any' ? [codeExecution] : [weather, codeExecution];
      const err = await client.messages.create(withTools({ tools, tool_choice })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      const body = (
        err as { error: { type: string; error: { type: string; message: string; code: string } } }
      ).error;
      expect(body.type).toBe('error');
      expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request' });
      expect(body.error.message).toContain("key 'claude-code'");
      expect(body.error.message).toContain('code_execution_20250522');
      expect(body.error.message).toContain('docs/api.md#hosted-tools');
    }
    expect(upstream.received).toHaveLength(0);
    expect(await lastRecord()).toMatchObject({ status: 400, errorCode: 'invalid_request', costUsd: 0 });
  });
});
