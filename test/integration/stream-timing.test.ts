import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, sleep, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

/*
 * timeout_ms measures the upstream (how long it stays silent), not the client's reading speed;
 * an SSE line too long to parse goes through as it came, the usage it carries still read from its
 * shape (its long strings emptied), its text counted for the estimate when it carries none.
 */

const TIMEOUT_MS = 1000;
let upstream: FakeUpstream;
let gw: Harness;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: standardYaml(upstream.baseUrl, { timeoutMs: TIMEOUT_MS }) });
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const delta = (content: string) => ({ choices: [{ index: 0, delta: { content } }] });
const usage = { choices: [], usage: { prompt_tokens: 10, completion_tokens: 20 } };

/** Posts a stream request and reads the answer, pausing `pauseMs` after the first bytes. */
function readSlowly(pauseMs: number): Promise<{ status: number; bytes: number; tail: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(
      `${gw.baseURL}/chat/completions`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.keys['cursor-dev']}`, 'content-type': 'application/json' },
      },
      (res) => {
        let bytes = 0;
        let tail = '';
        let paused = false;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          tail = (tail + c.toString('latin1')).slice(-200);
          if (!paused) {
            paused = true;
            res.pause();
            setTimeout(() => res.resume(), pauseMs);
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, tail, ms: Date.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(
      JSON.stringify({
        model: 'gpt-4o-mini',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'go' }],
      }),
    );
  });
}

const recordOf = async (n: number) => (await gw.waitForRecords(n, 10_000))[n - 1];

describe('the upstream timeout', () => {
  it('does not cut a healthy stream to a client that reads slower than timeout_ms', async () => {
    // 40 MB of SSE comment lines: more than every socket buffer between the two ends holds, so
    // the paused client holds the upstream back (backpressure) for longer than timeout_ms.
    const line = `: ${'x'.repeat(64 * 1024 - 3)}\n`;
    const LINES = 640;
    upstream.next(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(data(delta('Hello')));
      for (let i = 0; i < LINES; i++) {
        if (!res.write(line)) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end(`${data(usage)}data: [DONE]\n\n`);
    });
    const before = gw.records.length;
    const got = await readSlowly(3 * TIMEOUT_MS);
    expect(got.status).toBe(200);
    expect(got.ms).toBeGreaterThan(2 * TIMEOUT_MS);
    expect(got.tail).toContain('[DONE]');
    expect(got.bytes).toBeGreaterThan(LINES * line.length);
    const rec = await recordOf(before + 1);
    expect(rec).toMatchObject({ status: 200, errorCode: null, usageSource: 'provider', outputTokens: 20 });
  });

  it('does not cut a stream that keeps sending for longer than timeout_ms in all', async () => {
    upstream.next(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 8; i++) {
        res.write(data(delta(`w${i} `)));
        await sleep(TIMEOUT_MS / 4);
      }
      res.end(`${data(usage)}data: [DONE]\n\n`);
    });
    const before = gw.records.length;
    const got = await readSlowly(0);
    expect(got.ms).toBeGreaterThan(TIMEOUT_MS * 1.5);
    expect(got.tail).toContain('[DONE]');
    expect(await recordOf(before + 1)).toMatchObject({ status: 200, usageSource: 'provider' });
  });

  it('cuts a stream whose upstream goes silent for timeout_ms and records upstream_timeout', async () => {
    upstream.next(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(data(delta('before the silence')));
      await sleep(TIMEOUT_MS / 2);
      res.write(data(delta(' and again')));
      // ...then nothing, and the connection stays open.
    });
    const before = gw.records.length;
    const got = await readSlowly(0);
    expect(got.tail).not.toContain('[DONE]');
    // Cut after the silence, not after timeout_ms from the start.
    expect(got.ms).toBeGreaterThanOrEqual(TIMEOUT_MS * 1.5 - 50);
    const rec = await recordOf(before + 1);
    expect(rec).toMatchObject({ status: 504, errorCode: 'upstream_timeout', usageSource: 'estimated' });
    expect(gw.logLines.some((l) => l.includes(rec?.requestId ?? '?') && l.includes('timeout'))).toBe(true);
  });
});

describe('an SSE line too long to parse', () => {
  const sendBig = (big: string) =>
    upstream.next(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(data(delta('Hi')));
      for (let at = 0; at < big.length; at += 64 * 1024) res.write(big.slice(at, at + 64 * 1024));
      res.end('data: [DONE]\n\n');
    });

  it('goes to the client whole; the usage it carried is read from its shape', async () => {
    // The usage rides in a 3 MB line (a giant content delta in the same event).
    const big = data({
      choices: [{ index: 0, delta: { content: 'y'.repeat(3 * 1024 * 1024) } }],
      usage: usage.usage,
    });
    sendBig(big);
    const before = gw.records.length;
    const got = await readSlowly(0);
    expect(got.status).toBe(200);
    expect(got.bytes).toBe(Buffer.byteLength(`${data(delta('Hi'))}${big}data: [DONE]\n\n`));
    const rec = await recordOf(before + 1);
    expect(rec).toMatchObject({ usageSource: 'provider', inputTokens: 10, outputTokens: 20 });
  });

  it('without usage, still counts as generated text for the estimate', async () => {
    const big = data({ choices: [{ index: 0, delta: { content: 'y'.repeat(3 * 1024 * 1024) } }] });
    sendBig(big);
    const before = gw.records.length;
    const got = await readSlowly(0);
    expect(got.status).toBe(200);
    const rec = await recordOf(before + 1);
    expect(rec?.usageSource).toBe('estimated');
    // The unparsed line still counts as generated text (about 3M characters, ~780k tokens), but
    // never past the output bound written into the request: 16,384, the model's default.
    expect(rec?.outputTokens).toBe(16_384);
  });
});
