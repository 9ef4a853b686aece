import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeUpstream, json, sse, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

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
beforeEach(() => upstream.reset());

const post = (path: string, body: Record<string, unknown>, key = 'cursor-dev') =>
  fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.keys[key]}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50 };
const today = () => gw.records.at(-1)?.day ?? '';

async function lastRecordAfter(res: Response) {
  await res.text();
  const id = res.headers.get('x-tollgate-request-id');
  await gw.waitForRecords(1);
  for (let i = 0; i < 200; i++) {
    const r = gw.records.find((x) => x.requestId === id);
    if (r) return r;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('no record');
}

async function expectFiniteEverywhere() {
  const spend = await gw.store.getSpend('cursor-dev', [`d:${today()}`]);
  expect(Number.isFinite(spend[`d:${today()}`]?.spentUsd)).toBe(true);
  const text = await gw.deps.metrics.registry.metrics();
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#')))
    expect(Number.isFinite(Number(line.slice(line.lastIndexOf(' ') + 1))), line).toBe(true);
}

describe('usage an upstream reports that cannot be true', () => {
  it('charges the estimate for prompt_tokens: 1e308 in a JSON answer and logs a warning naming the upstream', async () => {
    upstream.next(
      json(200, {
        choices: [{ index: 0, message: { content: 'hi' } }],
        usage: { prompt_tokens: 1e308, completion_tokens: 3 },
      }),
    );
    const res = await post('/v1/chat/completions', chat);
    expect(res.status).toBe(200);
    const record = await lastRecordAfter(res);
    expect(record.usageSource).toBe('estimated');
    expect(Number.isFinite(record.costUsd)).toBe(true);
    expect(record.costUsd).toBeGreaterThan(0);
    expect(record.inputTokens).toBeLessThan(1000);
    const warning = gw.logLines.find((l) => l.includes('cannot be true') && l.includes(record.requestId));
    expect(warning).toContain("upstream 'openai'");
    expect(warning).toContain('"upstream":"openai"');
    await expectFiniteEverywhere();
  });

  it('charges the estimate for a negative or string count rather than $0 as provider usage', async () => {
    for (const usage of [
      { prompt_tokens: -5000, completion_tokens: 3 },
      { prompt_tokens: '5000', completion_tokens: 3 },
      { prompt_tokens: 10, completion_tokens: 2.5 },
      { prompt_tokens: 10, completion_tokens: 3, completion_tokens_details: { reasoning_tokens: -1 } },
      { prompt_tokens: 20_000_000, completion_tokens: 3 },
    ]) {
      upstream.next(json(200, { choices: [], usage }));
      const record = await lastRecordAfter(await post('/v1/chat/completions', chat));
      expect(record.usageSource, JSON.stringify(usage)).toBe('estimated');
      expect(record.costUsd).toBeGreaterThan(0);
    }
    await expectFiniteEverywhere();
  });

  it('charges the estimate for an OpenAI stream whose usage chunk says 1e308', async () => {
    upstream.next(
      sse([
        { choices: [{ index: 0, delta: { content: 'Hello' } }] },
        { choices: [], usage: { prompt_tokens: 12, completion_tokens: 1e308 } },
        'data: [DONE]\n\n',
      ]),
    );
    const res = await post('/v1/chat/completions', { ...chat, stream: true });
    const record = await lastRecordAfter(res);
    expect(record.usageSource).toBe('estimated');
    expect(Number.isFinite(record.costUsd)).toBe(true);
    await expectFiniteEverywhere();
  });

  it('charges the estimate for an Anthropic stream with an impossible cache-write count', async () => {
    const ev = (type: string, data: Record<string, unknown>) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    upstream.next(
      sse([
        ev('message_start', {
          message: { usage: { input_tokens: 10, cache_creation_input_tokens: 1e308, output_tokens: 1 } },
        }),
        ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }),
        ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5 } }),
        ev('message_stop', {}),
      ]),
    );
    const res = await post(
      '/v1/messages',
      { model: 'claude-house-1', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] },
      'claude-code',
    );
    expect(res.status).toBe(200);
    const record = await lastRecordAfter(res);
    expect(record.usageSource).toBe('estimated');
    expect(Number.isFinite(record.costUsd)).toBe(true);
    expect(gw.logLines.some((l) => l.includes("upstream 'anthropic'") && l.includes(record.requestId))).toBe(
      true,
    );
  });
});

describe('an output limit that is no count', () => {
  it('refuses max_tokens: 1e308 with a clear 400 instead of "may cost up to $Infinity"', async () => {
    const res = await post('/v1/chat/completions', { ...chat, max_tokens: 1e308 });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toMatch(
      /^max_tokens must be a whole number from 0 to 10,000,000; got 1e\+308/,
    );
    expect(body.error.message).not.toContain('Infinity');
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a negative, fractional or string output limit and an absurd n', async () => {
    for (const [field, value] of [
      ['max_tokens', -1],
      ['max_completion_tokens', 10.5],
      ['max_tokens', '100'],
      ['n', 1e308],
      ['n', 0],
    ] as const) {
      const res = await post('/v1/chat/completions', { ...chat, [field]: value });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status, `${field}: ${value}`).toBe(400);
      expect(body.error.message).toContain(`${field} must be a whole number`);
    }
    expect(upstream.received).toHaveLength(0);
  });
});
