import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import { spawnServe } from '../helpers/cli-process.js';

const key = mintKey();
let upstream: Server;
let upstreamUrl = '';
let dir = '';

beforeAll(async () => {
  // /slow streams 10 chunks 100 ms apart; anything else answers JSON at once.
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      if (req.headers['x-test-slow']) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let i = 0; i < 10; i++) {
          res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: `w${i} ` } }] })}\n\n`);
          await new Promise((r) => setTimeout(r, 100));
        }
        res.write(
          `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 10 } })}\n\n`,
        );
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } }),
      );
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'tollgate-proc-'));
  await writeFile(
    join(dir, 'keys.yaml'),
    `version: 1
upstreams:
  fake: { base_url: ${upstreamUrl}/v1, api_key: "\${FAKE_KEY}" }
models:
  small: { upstream: fake, input_per_mtok: 1, output_per_mtok: 2, max_output_tokens: 100 }
keys:
  cursor-dev: { hash: ${hashKey(key)}, limits: { daily_usd: 100 } }
`,
  );
});

afterAll(async () => {
  upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

const post = (url: string, headers: Record<string, string> = {}, stream = false) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      model: 'small',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 10,
      stream,
    }),
  });

describe('tollgate serve as a process', () => {
  it('finishes an in-flight stream on SIGTERM, records its usage, and exits 0', async () => {
    const db = join(dir, 'sigterm.db');
    const proc = await spawnServe(
      ['--config', join(dir, 'keys.yaml'), '--port', '0', '--store', `sqlite:${db}`],
      {
        FAKE_KEY: 'k',
      },
    );
    const res = await post(proc.url, { 'x-test-slow': '1' }, true);
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-tollgate-request-id') ?? '';
    const reader = res.body!.getReader();
    await reader.read(); // the stream has started
    proc.child.kill('SIGTERM');
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    expect(text).toContain('w9');
    expect(text).toContain('[DONE]');
    expect(await proc.exited).toBe(0);

    const store = createSqliteStore(db);
    await store.init();
    const rows = await store.queryUsage({ since: 0, until: Date.now() + 1, by: 'key' }, 'UTC');
    expect(rows[0]?.requests).toBe(1);
    expect(rows[0]?.cost_usd).toBeCloseTo((10 * 1 + 10 * 2) / 1e6, 12);
    await store.close();
    expect(requestId).not.toBe('');
  });

  it('loses no usage record of a completed response to SIGKILL, and a restart frees every reservation', async () => {
    const db = join(dir, 'sigkill.db');
    const args = ['--config', join(dir, 'keys.yaml'), '--port', '0', '--store', `sqlite:${db}`];
    const proc = await spawnServe(args, { FAKE_KEY: 'k' });
    const completed: string[] = [];
    // Slow streams keep reservations open while fast requests complete around them.
    const slow = Array.from({ length: 5 }, () =>
      post(proc.url, { 'x-test-slow': '1' }, true).catch(() => null),
    );
    const fast = Array.from({ length: 40 }, async () => {
      const res = await post(proc.url).catch(() => null);
      if (res?.status === 200) {
        await res.text();
        completed.push(res.headers.get('x-tollgate-request-id') ?? '');
      }
    });
    await Promise.all(fast);
    await Promise.all(slow); // headers of the streams arrived: they hold reservations now
    proc.child.kill('SIGKILL');
    await proc.exited;
    expect(completed.length).toBe(40);

    const store = createSqliteStore(db);
    await store.init();
    const day = new Date().toISOString().slice(0, 10);
    const before = await store.getSpend('cursor-dev', [`d:${day}`]);
    expect(before[`d:${day}`]?.reservedUsd ?? 0).toBeGreaterThan(0);
    const rows = await store.queryUsage({ since: 0, until: Date.now() + 1, by: 'status' }, 'UTC');
    expect(rows.find((r) => r.status === 200)?.requests).toBe(40);
    await store.close();

    const again = await spawnServe(args, { FAKE_KEY: 'k' });
    again.child.kill('SIGTERM');
    const code = await again.exited;
    expect(code, again.output()).toBe(0);
    const after = createSqliteStore(db);
    await after.init();
    const spend = await after.getSpend('cursor-dev', [`d:${day}`]);
    expect(spend[`d:${day}`]?.reservedUsd ?? 0).toBeCloseTo(0, 12);
    await after.close();
  });
});

describe('two serve processes on one SQLite store', () => {
  it("refuses the second with a clear message, leaves the first one's reservations alone, and a restart after kill -9 works", async () => {
    const db = join(dir, 'twice.db');
    const args = ['--config', join(dir, 'keys.yaml'), '--port', '0', '--store', `sqlite:${db}`];
    const first = await spawnServe(args, { FAKE_KEY: 'k' });
    // A stream in flight holds a reservation in the store.
    const res = await post(first.url, { 'x-test-slow': '1' }, true);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();

    const second = await spawnServe(args, { FAKE_KEY: 'k' }).then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(second).toContain(`the SQLite store ${db} is in use by another 'tollgate serve'`);
    expect(second).toContain('--store');

    // The first one's stream finishes and is recorded with its real cost, not as an expired reservation.
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    expect(text).toContain('[DONE]');
    const requestId = res.headers.get('x-tollgate-request-id') ?? '';
    const check = createSqliteStore(db);
    await check.init();
    const rows = await check.queryUsage({ since: 0, until: Date.now() + 1, by: 'status' }, 'UTC');
    expect(rows.map((r) => r.status)).toEqual([200]);
    expect(rows[0]?.cost_usd).toBeCloseTo((10 * 1 + 10 * 2) / 1e6, 12);
    await check.close();
    expect(requestId).not.toBe('');

    // kill -9 leaves the lock file behind but no lock: a restart takes the store over at once.
    first.child.kill('SIGKILL');
    await first.exited;
    const again = await spawnServe(args, { FAKE_KEY: 'k' });
    expect((await post(again.url)).status).toBe(200);
    again.child.kill('SIGTERM');
    expect(await again.exited, again.output()).toBe(0);
  });
});
