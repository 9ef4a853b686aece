import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Behaviour,
  type FakeUpstream,
  type Received,
  sleep,
  startFakeUpstream,
} from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

/*
 * An upstream that echoes its request (a debugging proxy, a misconfigured relay) must not hand
 * the client the upstream key the gateway sent, nor the client's own key, in a header or a body.
 */

const OPENAI_KEY = 'sk-upstream-openai-secret';
const ANTHROPIC_KEY = 'sk-ant-upstream-secret';

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

const echoHeaders = (r: Received): Record<string, string> => ({
  'x-echo-authorization': String(r.headers.authorization ?? ''),
  'x-echo-api-key': String(r.headers['x-api-key'] ?? ''),
});

/** Answers `status` with every request header and the request body echoed in JSON, and in headers. */
const echo =
  (status: number): Behaviour =>
  (r: Received, res: ServerResponse) => {
    const body = JSON.stringify({ error: { message: 'echo', headers: r.headers, body: r.body } });
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      ...echoHeaders(r),
    });
    res.end(body);
  };

const post = (
  path: string,
  key: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) =>
  fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers, authorization: `Bearer ${gw.keys[key]}` },
    body: JSON.stringify(body),
  });

const allHeaders = (res: Response) => [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');

describe('an upstream that echoes its request', () => {
  for (const status of [500, 400, 200]) {
    it(`never sends the upstream key or the client's key back in a ${status} answer's headers or body`, async () => {
      upstream.next(echo(status));
      const clientKey = gw.keys['cursor-dev'] as string;
      const res = await post('/v1/chat/completions', 'cursor-dev', {
        model: 'gpt-4o-mini',
        // The client's own key, pasted into the prompt by mistake: the echo carries it back.
        messages: [{ role: 'user', content: `my key is ${clientKey}` }],
        max_tokens: 10,
      });
      const text = await res.text();
      expect(res.status).toBe(status);
      // The upstream did receive the key: the echo is real.
      expect(upstream.received[0]?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
      for (const where of [text, allHeaders(res)]) {
        expect(where).not.toContain(OPENAI_KEY);
        expect(where).not.toContain(clientKey);
      }
      expect(res.headers.get('x-echo-authorization')).toBe('Bearer [redacted]');
      // Same length in the body, so the upstream's Content-Length still frames it: it parses whole.
      const parsed = JSON.parse(text) as { error: { headers: Record<string, string>; body: string } };
      expect(parsed.error.headers.authorization).toMatch(/^Bearer \[redacted\]\*+$/);
      expect(parsed.error.body).toContain(
        `${clientKey.slice(0, 6)}${'*'.repeat(clientKey.length - 10)}${clientKey.slice(-4)}`,
      );
    });
  }

  it('redacts the Anthropic x-api-key echoed on /v1/messages', async () => {
    upstream.next(echo(401));
    const res = await post('/v1/messages', 'claude-code', {
      model: 'claude-house-1',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const text = await res.text();
    expect(upstream.received[0]?.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(text).not.toContain(ANTHROPIC_KEY);
    expect(allHeaders(res)).not.toContain(ANTHROPIC_KEY);
  });

  it('redacts a key echoed into a stream even when it arrives split across two chunks, without holding the stream', async () => {
    upstream.next(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: `echo Bearer ${OPENAI_KEY}` } }] })}\n\n`;
      const cut = event.indexOf(OPENAI_KEY) + 7;
      for (const part of [event.slice(0, cut), event.slice(cut), 'data: [DONE]\n\n']) {
        await new Promise<void>((resolve) => res.write(part, () => resolve()));
        await sleep(30);
      }
      res.end();
    });
    const res = await post('/v1/chat/completions', 'cursor-dev', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: string[] = [];
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value).toString('utf8'));
    }
    const text = chunks.join('');
    expect(text).not.toContain(OPENAI_KEY);
    expect(text).toContain('echo Bearer [redacted]');
    expect(text).toContain('[DONE]');
  });
});
