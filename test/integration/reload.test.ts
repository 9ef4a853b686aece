import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { writeTempRename } from '../helpers/config-replace.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/**
 * Hot reload end to end (docs/operations.md#reload-and-shutdown): the real server, its real watcher, a fake
 * upstream. Every change goes through the file the way a deploy does (atomic rename), never through reload().
 */

const cursorKey = mintKey();
const ciKey = mintKey();
let upstream: Server;
let upstreamUrl = '';
let gw: TestServer;

interface Shape {
  cursor?: { daily?: number; models?: string[]; disabled?: boolean } | null;
  ci?: boolean;
  comment?: string;
}

function yaml(shape: Shape = {}): string {
  const cursor = shape.cursor === undefined ? {} : shape.cursor;
  const lines = [
    'version: 1',
    'upstreams:',
    `  fake: { base_url: ${upstreamUrl}/v1, api_key: "\${FAKE_KEY}" }`,
    'models:',
    '  small: { upstream: fake, input_per_mtok: 1, output_per_mtok: 2, max_output_tokens: 100 }',
    '  large: { upstream: fake, input_per_mtok: 1, output_per_mtok: 2, max_output_tokens: 100 }',
    '  slow: { upstream: fake, input_per_mtok: 1, output_per_mtok: 2, max_output_tokens: 100 }',
    'keys:',
  ];
  if (cursor) {
    lines.push(
      `  cursor-dev:`,
      `    hash: ${hashKey(cursorKey)}`,
      `    limits: { daily_usd: ${cursor.daily ?? 5}, rpm: 1000 }`,
    );
    if (cursor.models) lines.push(`    models: [${cursor.models.join(', ')}]`);
    if (cursor.disabled) lines.push('    disabled: true');
  }
  if (shape.ci) lines.push(`  ci-bot: { hash: ${hashKey(ciKey)}, limits: { daily_usd: 5, rpm: 1000 } }`);
  if (!cursor && !shape.ci) lines[lines.length - 1] = 'keys: {}';
  if (shape.comment) lines.push(`# ${shape.comment}`);
  return `${lines.join('\n')}\n`;
}

const chat = (key: string, model = 'small') =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  });

async function codeOf(res: Response): Promise<string | null> {
  const body = (await res.json()) as { error?: { code?: string } };
  return body.error?.code ?? null;
}

/** Polls a request until its status is `status`, within 2 s. */
async function untilStatus(send: () => Promise<Response>, status: number): Promise<Response> {
  let last: Response | undefined;
  await waitFor(async () => {
    last = await send();
    if (last.status === status) return true;
    await last.arrayBuffer();
    return false;
  }, 2_000);
  return last!;
}

function deploy(content: string): void {
  writeTempRename(gw.file, content);
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      // The `slow` model answers late, so a reload can land while its request is in flight.
      if (Buffer.concat(chunks).toString('utf8').includes('"slow"'))
        await new Promise((r) => setTimeout(r, 1_000));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'x',
          object: 'chat.completion',
          model: 'small',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 },
        }),
      );
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => upstream.close(r));
});

beforeEach(async () => {
  gw = await startTestServer({ yaml: yaml(), env: { FAKE_KEY: 'sk-upstream-secret' } });
});

afterEach(async () => {
  await gw.close();
});

describe('hot reload through the real server', () => {
  it('refuses a key removed from the file within 2 s', async () => {
    expect((await chat(cursorKey)).status).toBe(200);
    const gauge = 'tollgate_budget_use_ratio{key="cursor-dev"';
    // The gauge is set just after the response, off its path.
    await waitFor(async () => (await (await fetch(`${gw.url}/metrics`)).text()).includes(gauge));
    deploy(yaml({ cursor: null, ci: true }));
    const res = await untilStatus(() => chat(cursorKey), 401);
    expect(await codeOf(res)).toBe('invalid_api_key');
    // A removed key stops showing as using its budget.
    expect(await (await fetch(`${gw.url}/metrics`)).text()).not.toContain(gauge);
  });

  it('accepts a key added to the file within 2 s', async () => {
    expect((await chat(ciKey)).status).toBe(401);
    deploy(yaml({ ci: true }));
    await untilStatus(() => chat(ciKey), 200);
  });

  it('refuses a key disabled in the file within 2 s', async () => {
    deploy(yaml({ cursor: { disabled: true } }));
    const res = await untilStatus(() => chat(cursorKey), 401);
    expect(await codeOf(res)).toBe('key_disabled');
  });

  it('applies a narrowed allow-list within 2 s', async () => {
    expect((await chat(cursorKey, 'large')).status).toBe(200);
    deploy(yaml({ cursor: { models: ['small'] } }));
    const res = await untilStatus(() => chat(cursorKey, 'large'), 403);
    expect(await codeOf(res)).toBe('model_not_allowed');
    expect((await chat(cursorKey, 'small')).status).toBe(200);
  });

  it('applies a lowered limit within 2 s and keeps the spend made before the reload', async () => {
    // 1000 input + 500 output tokens at $1/$2 per Mtok: $0.002 per request.
    expect((await chat(cursorKey)).status).toBe(200);
    const periods = [`d:${new Date().toISOString().slice(0, 10)}`];
    const spentNow = async () =>
      Object.values(await gw.server.deps.store.getSpend('cursor-dev', periods))[0]?.spentUsd ?? 0;
    await waitFor(async () => Math.abs((await spentNow()) - 0.002) < 1e-9, 2_000);

    // $0.0015 would still fit a small request if the reload had reset the counter to 0.
    deploy(yaml({ cursor: { daily: 0.0015 } }));
    await waitFor(
      () => gw.server.deps.config.current().config.keys['cursor-dev']?.limits.dailyUsd === 0.0015,
      2_000,
    );
    expect(await spentNow()).toBeCloseTo(0.002, 9);
    const res = await chat(cursorKey);
    expect(res.status).toBe(429);
    expect(await codeOf(res)).toBe('insufficient_quota');
  });

  it('keeps serving the last good config on a broken file and shows the error on /healthz and /metrics', async () => {
    const good = gw.server.deps.config.current().revision;
    deploy(`${yaml({ ci: true })}  bogus_field: 1\n`);
    await waitFor(async () => {
      const body = (await (await fetch(`${gw.url}/healthz`)).json()) as {
        config: { last_reload_ok: boolean };
      };
      return body.config.last_reload_ok === false;
    }, 2_000);
    const health = (await (await fetch(`${gw.url}/healthz`)).json()) as {
      config: { revision: string; last_reload_error: string[] };
    };
    expect(health.config.revision).toBe(good);
    expect(health.config.last_reload_error[0]).toMatch(/keys\.yaml:\d+:\d+: /);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^tollgate_config_last_reload_successful 0$/m);
    expect(metrics).toContain(`tollgate_config_info{revision="${good}"} 1`);
    // The last good config keeps serving: the old key works, the key of the broken file does not.
    expect((await chat(cursorKey)).status).toBe(200);
    expect((await chat(ciKey)).status).toBe(401);

    deploy(yaml({ ci: true }));
    await untilStatus(() => chat(ciKey), 200);
    expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(
      /^tollgate_config_last_reload_successful 1$/m,
    );
  });

  it('keeps serving when the file is truncated to nothing, then applies the next good file', async () => {
    writeFileSync(gw.file, '');
    await new Promise((r) => setTimeout(r, 800));
    expect((await chat(cursorKey)).status).toBe(200);
    deploy(yaml({ ci: true }));
    await untilStatus(() => chat(ciKey), 200);
  });

  it('lets a request in flight finish under the config it started with when its key is removed', async () => {
    const inFlight = chat(cursorKey, 'slow');
    await new Promise((r) => setTimeout(r, 100));
    const before = gw.server.deps.config.current().revision;
    deploy(yaml({ cursor: null, ci: true }));
    await waitFor(() => gw.server.deps.config.current().revision !== before, 2_000);
    expect((await chat(cursorKey)).status).toBe(401);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tollgate-key')).toBe('cursor-dev');
  });
});
