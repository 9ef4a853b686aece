import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  anthropicEvents,
  type FakeUpstream,
  hang,
  sleep,
  sse,
  startFakeUpstream,
} from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

let upstream: FakeUpstream;
let gw: Harness;

const chunk = (content: string) => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
});

const chatBody = JSON.stringify({
  model: 'gpt-4o-mini',
  stream: true,
  messages: [{ role: 'user', content: 'go' }],
});

function post(path: string, body: string, signal?: AbortSignal, base = gw) {
  return fetch(`${base.baseURL}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${base.keys['cursor-dev']}`, 'content-type': 'application/json' },
    body,
    ...(signal ? { signal } : {}),
  });
}

async function within(ms: number, check: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await sleep(5);
  }
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
  upstream.abortedAt.length = 0;
});

describe('streams through the gateway', () => {
  it('delivers the first chunk while the upstream is still sending', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    upstream.next(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk('first'))}\n\n`);
      await gate;
      res.write(`data: ${JSON.stringify(chunk(' second'))}\n\n`);
      res.end('data: [DONE]\n\n');
    });
    const res = await post('/chat/completions', chatBody);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    // The upstream is still waiting on the gate: this chunk cannot have been buffered to the end.
    expect(new TextDecoder().decode(first.value)).toContain('"first"');
    release();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toContain(' second');
    expect(rest).toContain('[DONE]');
    const [rec] = await gw.waitForRecords(1);
    // The upstream sent no usage chunk: metered from the text.
    expect(rec).toMatchObject({
      status: 200,
      usageSource: 'estimated',
      outputTokens: Math.ceil('first second'.length / 4),
    });
  });

  it('closes the upstream connection within a second of a client abort mid-stream, and meters it as estimated', async () => {
    upstream.next(sse([chunk('Hello there'), chunk(' again')], { hangAfter: 2 }));
    const ac = new AbortController();
    const res = await post('/chat/completions', chatBody, ac.signal);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let seen = '';
    while (!seen.includes('again')) seen += new TextDecoder().decode((await reader.read()).value);
    const abortedAt = Date.now();
    ac.abort();
    await within(1_000, () => upstream.abortedAt.length === 1);
    expect((upstream.abortedAt[0] as number) - abortedAt).toBeLessThan(1_000);
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({
      status: 499,
      errorCode: 'client_closed_request',
      usageSource: 'estimated',
      stream: true,
      inputTokens: Math.ceil(Buffer.byteLength(chatBody) / 3),
      outputTokens: Math.ceil('Hello there again'.length / 4),
    });
    const expected = (Math.ceil(Buffer.byteLength(chatBody) / 3) * 0.15 + Math.ceil(17 / 4) * 0.6) / 1e6;
    expect(Math.abs((rec?.costUsd ?? 0) - expected)).toBeLessThan(1e-9);
  });

  it('aborts the upstream request when the client leaves before any response header', async () => {
    upstream.next(hang);
    const ac = new AbortController();
    const pending = post('/chat/completions', chatBody, ac.signal).catch((e: unknown) => e);
    await upstream.waitForRequests(1);
    ac.abort();
    await pending;
    await within(1_000, () => upstream.abortedAt.length === 1);
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({ status: 499, usageSource: 'estimated', outputTokens: 0 });
    expect(gw.gateway.inFlight()).toBe(0);
  });

  it('meters an Anthropic stream the client abandoned from message_start and the streamed text', async () => {
    const events = anthropicEvents('claude-house-1');
    upstream.next(sse(events, { hangAfter: 4 }));
    const ac = new AbortController();
    const res = await fetch(`${gw.baseURL}/messages`, {
      method: 'POST',
      headers: { 'x-api-key': gw.keys['claude-code'] as string, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-house-1',
        max_tokens: 100,
        stream: true,
        messages: [{ role: 'user', content: 'go' }],
      }),
      signal: ac.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let seen = '';
    while (!seen.includes('", "')) {
      seen += new TextDecoder().decode((await reader.read()).value);
      if (seen.includes('"text":", "')) break;
    }
    ac.abort();
    const [rec] = await gw.waitForRecords(1);
    // message_start gave the input (1150, 1000 cached); the output is estimated from "Hello, " (7 chars).
    expect(rec).toMatchObject({
      status: 499,
      inputTokens: 1150,
      cachedTokens: 1000,
      outputTokens: 2,
      usageSource: 'estimated',
    });
  });

  it('ends the client stream promptly when the upstream dies mid-stream, and keeps serving', async () => {
    upstream.next(sse([chunk('partial')], { resetAfter: 1 }));
    const started = Date.now();
    const res = await post('/chat/completions', chatBody);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const outcome = await (async () => {
      try {
        for (;;) if ((await reader.read()).done) return 'ended';
      } catch {
        return 'errored';
      }
    })();
    expect(outcome).toBe('errored');
    expect(Date.now() - started).toBeLessThan(2_000);
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({
      status: 502,
      errorCode: 'upstream_error',
      usageSource: 'estimated',
      outputTokens: 2,
    });
    expect((await post('/chat/completions', chatBody)).status).toBe(200);
  });

  it('ends a stream that outlives timeout_ms and records upstream_timeout', async () => {
    const fast = await startGateway({ yaml: standardYaml(upstream.baseUrl, { timeoutMs: 300 }) });
    try {
      upstream.next(sse([chunk('slow')], { hangAfter: 1 }));
      const res = await post('/chat/completions', chatBody, undefined, fast);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('slow');
      const [rec] = await fast.waitForRecords(1);
      expect(rec).toMatchObject({ status: 504, errorCode: 'upstream_timeout', usageSource: 'estimated' });
      await within(1_000, () => upstream.abortedAt.length === 1);
    } finally {
      await fast.close();
    }
  });
});
