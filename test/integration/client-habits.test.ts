import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { CANNED, type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

/**
 * The habits of real clients that docs/clients.md describes, sent as those clients send them
 * (headers, query strings and paths read from their source): each must work against tollgate and
 * be metered exactly.
 */

let upstream: FakeUpstream;
let gw: Harness;

/**
 * claude-house-1: $3 input, $0.30 cache reads, $15 output per million tokens; not in the catalog,
 * so its cache writes take the anthropic-format defaults: 1.25 x input for 5-minute writes, 2 x
 * for 1-hour ones.
 */
const { cache_creation: writes, ...msg } = CANNED.messages;
const MESSAGES_COST =
  (msg.input_tokens * 3 +
    writes.ephemeral_5m_input_tokens * 3 * 1.25 +
    writes.ephemeral_1h_input_tokens * 3 * 2 +
    msg.cache_read_input_tokens * 0.3 +
    msg.output_tokens * 15) /
  1e6;

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

const claudeCodeHeaders = (auth: Record<string, string>) => ({
  ...auth,
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
  'anthropic-beta':
    'claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14',
  'x-claude-code-session-id': 'a1b2c3',
  'user-agent': 'claude-cli/2.1.0 (external, cli)',
});

describe('Claude Code', () => {
  it('gets POST /v1/messages?beta=true through with ANTHROPIC_AUTH_TOKEN (Bearer), query and betas passed on, metered exactly', async () => {
    const res = await fetch(`${gw.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: claudeCodeHeaders({ authorization: `Bearer ${gw.keys['claude-code']}` }),
      body: JSON.stringify({
        model: 'claude-house-1',
        max_tokens: 1024,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('message_stop');
    const got = upstream.received[0];
    expect(got?.url).toBe('/v1/messages?beta=true');
    expect(got?.headers['anthropic-beta']).toContain('claude-code-20250219');
    expect(got?.headers['x-api-key']).toBe('sk-ant-upstream-secret');
    expect(got?.headers.authorization).toBeUndefined();
    const [rec] = (await gw.waitForRecords(1)) as UsageRecord[];
    expect(rec).toMatchObject({ key: 'claude-code', route: '/v1/messages', status: 200, stream: true });
    expect(rec?.costUsd).toBeCloseTo(MESSAGES_COST, 12);
  });

  it('gets POST /v1/messages/count_tokens?beta=true through with ANTHROPIC_API_KEY (x-api-key), free', async () => {
    const res = await fetch(`${gw.url}/v1/messages/count_tokens?beta=true`, {
      method: 'POST',
      headers: claudeCodeHeaders({ 'x-api-key': gw.keys['claude-code'] as string }),
      body: JSON.stringify({ model: 'claude-house-1', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(CANNED.countTokens);
    expect(upstream.received[0]?.url).toBe('/v1/messages/count_tokens?beta=true');
    const [rec] = (await gw.waitForRecords(1)) as UsageRecord[];
    expect(rec).toMatchObject({ route: '/v1/messages/count_tokens', status: 200, costUsd: 0 });
  });

  it('discovers models with GET /v1/models?limit=1000 in the Anthropic shape', async () => {
    const res = await fetch(`${gw.url}/v1/models?limit=1000`, {
      headers: { 'x-api-key': gw.keys['claude-code'] as string, 'anthropic-version': '2023-06-01' },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      data: Array<{ id: string; type: string; display_name: string; created_at: string }>;
      has_more: boolean;
    };
    expect(body.has_more).toBe(false);
    expect(body.data.map((m) => m.id)).toEqual(['gpt-4o-mini', 'claude-house-1']);
    expect(body.data[1]).toMatchObject({ type: 'model', display_name: 'claude-house-1' });
    expect(Number.isNaN(Date.parse(body.data[1]?.created_at ?? ''))).toBe(false);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('OpenAI Codex CLI', () => {
  const models = (query: string) =>
    fetch(`${gw.url}/v1/models${query}`, {
      headers: { authorization: `Bearer ${gw.keys['cursor-dev']}`, originator: 'codex_cli_rs' },
    });

  it('gets a top-level models array from GET /v1/models?client_version=, so its catalog decodes', async () => {
    const body = (await (await models('?client_version=0.99.0')).json()) as Record<string, unknown>;
    expect(body.models).toEqual([]);
    expect((body.data as Array<{ id: string }>).map((m) => m.id)).toContain('gpt-4o-mini');
  });

  it('keeps the plain OpenAI list for every other client', async () => {
    const body = (await (await models('')).json()) as Record<string, unknown>;
    expect(body).not.toHaveProperty('models');
    expect(body.object).toBe('list');
  });

  it('meters a Responses API stream that sets no max_output_tokens, as Codex sends it', async () => {
    const res = await fetch(`${gw.url}/v1/responses`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gw.keys['cursor-dev']}`,
        'content-type': 'application/json',
        session_id: 's-1',
      },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        instructions: 'You are Codex.',
        input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
        stream: true,
        store: false,
        include: ['reasoning.encrypted_content'],
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('response.completed');
    const [rec] = (await gw.waitForRecords(1)) as UsageRecord[];
    const { input_tokens, output_tokens, input_tokens_details } = CANNED.responses;
    const cached = input_tokens_details.cached_tokens;
    expect(rec).toMatchObject({
      route: '/v1/responses',
      stream: true,
      inputTokens: input_tokens,
      outputTokens: output_tokens,
      cachedTokens: cached,
      usageSource: 'provider',
    });
    expect(rec?.costUsd).toBeCloseTo(
      ((input_tokens - cached) * 0.15 + cached * 0.075 + output_tokens * 0.6) / 1e6,
      12,
    );
    // The reserved output bound is written into the request Codex sent without one.
    expect(upstream.received[0]?.json?.max_output_tokens).toBe(16384);
    expect(res.headers.get('x-tollgate-output-capped')).toBe('16384');
  });
});
