import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { openStore } from '../../src/store/open.js';
import { storeFailure } from '../../src/store/store-unavailable.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

const key = mintKey();
const otherKey = mintKey();
const ADMIN = 'admin-token-for-tests-0123456789abcdef';
let upstream: Server;
let upstreamUrl = '';
let gw: TestServer;

function yaml(): string {
  return `version: 1
server: { timezone: Europe/Berlin }
upstreams:
  fake: { base_url: ${upstreamUrl}/v1, api_key: "\${FAKE_KEY}" }
models:
  small: { upstream: fake, input_per_mtok: 1, output_per_mtok: 2, max_output_tokens: 100 }
groups:
  frontend: {}
keys:
  cursor-dev: { hash: ${hashKey(key)}, group: frontend, limits: { daily_usd: 5, rpm: 1000 } }
  open-webui-team: { hash: ${hashKey(otherKey)}, limits: { daily_usd: 5 } }
`;
}

const chat = (k: string) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'small',
      messages: [{ role: 'user', content: 'secret prompt text' }],
      max_tokens: 10,
    }),
  });
const admin = (path: string, init: RequestInit = {}, token = ADMIN) =>
  fetch(`${gw.url}/admin${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...(init.headers ?? {}),
    },
  });

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'x',
          object: 'chat.completion',
          model: 'small',
          choices: [
            { index: 0, message: { role: 'assistant', content: 'completion text' }, finish_reason: 'stop' },
          ],
          usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 },
        }),
      );
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startTestServer({
    yaml: yaml(),
    env: { FAKE_KEY: 'sk-upstream-secret', TOLLGATE_ADMIN_TOKEN: ADMIN },
  });
});

afterAll(async () => {
  await gw?.close();
  upstream?.close();
});

describe('operations endpoints', () => {
  it('answers /healthz with the config revision, its load time and no reload error', async () => {
    const res = await fetch(`${gw.url}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; config: Record<string, unknown> };
    expect(body.status).toBe('ok');
    expect(body.config.revision).toBe(gw.server.deps.config.current().revision);
    expect(body.config.last_reload_error).toBeNull();
    expect(typeof body.config.loaded_at).toBe('string');
    expect((body as unknown as { prices: { catalog: string } }).prices.catalog).toMatch(
      /^@pydantic\/genai-prices 0\.1\.\d+$/,
    );
  });

  it('answers an unknown path with a JSON 404 and never proxies it', async () => {
    const res = await fetch(`${gw.url}/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect(res.headers.get('x-tollgate-key')).toBe('-');
    expect(res.headers.get('x-tollgate-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('counts requests and spend by key name in /metrics without ever showing a key', async () => {
    expect((await chat(key)).status).toBe(200);
    // Metrics are counted once the request has settled, which can come just after the answer.
    let text = '';
    await waitFor(async () => {
      text = await (await fetch(`${gw.url}/metrics`)).text();
      return /tollgate_spend_usd_total\{key="cursor-dev",model="small"\} 0\.002/.test(text);
    }).catch(() => {});
    expect(text).toMatch(/tollgate_requests_total\{key="cursor-dev",model="small",status="200"\} \d+/);
    expect(text).toMatch(/tollgate_spend_usd_total\{key="cursor-dev",model="small"\} 0\.002/);
    expect(text).toContain('tollgate_config_last_reload_successful 1');
    expect(text).toContain(`tollgate_config_info{revision="${gw.server.deps.config.current().revision}"} 1`);
    expect(text).not.toContain(key);
    expect(text).not.toContain('sk-upstream-secret');
  });

  it('labels /metrics only with what the config names, however many model names and keys clients invent', async () => {
    const send = (k: string, model: string) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
      }).then((r) => r.text());
    const invented: string[] = [];
    const seriesAfter = async (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        const model = `made-up-${Math.random().toString(36).slice(2)}`;
        invented.push(model);
        await send(i % 3 === 0 ? mintKey() : key, model);
      }
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      return { text, series: text.split('\n').filter((l) => l.startsWith('tollgate_')) };
    };
    const first = await seriesAfter(30);
    const later = await seriesAfter(300);
    expect(later.series.length).toBe(first.series.length);
    for (const name of invented) expect(later.text).not.toContain(name);
    const values = (label: string) =>
      new Set([...later.text.matchAll(new RegExp(`[{,]${label}="([^"]*)"`, 'g'))].map((m) => m[1]));
    expect([...values('model')].sort()).toEqual(['other', 'small']);
    const keys = values('key');
    expect(keys.has('unknown')).toBe(true);
    for (const k of keys) expect(['cursor-dev', 'open-webui-team', 'unknown']).toContain(k);
    expect(later.text).toMatch(/tollgate_requests_total\{key="cursor-dev",model="other",status="404"\} \d+/);
  });

  it('shows the process in /metrics: RSS, heap and event-loop lag', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(Number(text.match(/^process_resident_memory_bytes (\d+)/m)?.[1])).toBeGreaterThan(1e6);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds [\d.e-]+/m);
  });

  it('sends OpenAI-style rate-limit headers with the requests left this minute', async () => {
    const first = await chat(key);
    const second = await chat(key);
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('1000');
    const left = Number(second.headers.get('x-ratelimit-remaining-requests'));
    expect(left).toBe(Number(first.headers.get('x-ratelimit-remaining-requests')) - 1);
    expect(first.headers.get('x-tollgate-key')).toBe('cursor-dev');
    expect(first.headers.get('x-tollgate-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("warns at start when the SQLite store sits in the config file's folder, and not otherwise", async () => {
    const warning = /the SQLite store is in the config file's folder/;
    expect(gw.logs.join('')).not.toMatch(warning);
    const beside = await startTestServer({ yaml: yaml(), env: { FAKE_KEY: 'k' }, storeInConfigDir: true });
    try {
      const line = beside.logs.find((l) => warning.test(l));
      expect(line && JSON.parse(line)).toMatchObject({ level: 40, config: beside.file });
    } finally {
      await beside.close();
    }
  });

  it('keeps keys, the upstream key and prompts out of the logs', async () => {
    expect((await chat(key)).status).toBe(200);
    const logs = gw.logs.join('');
    expect(logs).toContain('cursor-dev');
    expect(logs).not.toContain(key);
    expect(logs).not.toContain('sk-upstream-secret');
    expect(logs).not.toContain('secret prompt text');
    expect(logs).not.toContain('completion text');
  });
});

describe('the admin API', () => {
  it('refuses a wrong token', async () => {
    const res = await admin('/keys', {}, 'wrong-token-of-other-len');
    expect(res.status).toBe(401);
  });

  it('lists keys with status, limits and spend', async () => {
    const res = await admin('/keys');
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as {
      data: Array<{ name: string; status: string; spend: { today_usd: number }; limits: unknown }>;
    };
    const cursor = data.find((k) => k.name === 'cursor-dev');
    expect(cursor?.status).toBe('active');
    expect(cursor?.limits).toEqual({
      hourly_usd: null,
      daily_usd: 5,
      weekly_usd: null,
      monthly_usd: null,
      rpm: 1000,
      tpm: null,
      max_parallel: null,
      max_output_tokens: null,
    });
    expect(cursor).toMatchObject({ group: 'frontend' });
    expect(cursor?.spend.today_usd).toBeGreaterThan(0);
    expect((await admin('/keys/nope')).status).toBe(404);
  });

  it('disables a key so requests get 401 key_disabled, and enables it again', async () => {
    const off = await admin('/keys/open-webui-team/disable', {
      method: 'POST',
      body: JSON.stringify({ reason: 'leaked in a gist' }),
    });
    expect(off.status).toBe(200);
    const refused = await chat(otherKey);
    expect(refused.status).toBe(401);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('key_disabled');
    expect(body.error.message).toContain('open-webui-team');
    const one = (await (await admin('/keys/open-webui-team')).json()) as {
      status: string;
      disabled_override: { reason: string };
    };
    expect(one.status).toBe('disabled_override');
    expect(one.disabled_override.reason).toBe('leaked in a gist');

    expect((await admin('/keys/open-webui-team/enable', { method: 'POST' })).status).toBe(200);
    expect((await chat(otherKey)).status).toBe(200);
  });

  it('reports usage grouped as asked', async () => {
    const res = await admin('/usage?by=model&since=1d');
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as {
      data: Array<{ model: string; requests: number; cost_usd: number }>;
    };
    const small = data.find((r) => r.model === 'small');
    expect(small?.requests).toBeGreaterThanOrEqual(3);
    expect(small?.cost_usd).toBeCloseTo(0.002 * (small?.requests ?? 0), 9);
    const byGroup = (await (await admin('/usage?by=group&since=1d')).json()) as {
      data: Array<{ group: string; requests: number }>;
    };
    const frontend = byGroup.data.find((r) => r.group === 'frontend');
    const cursorRows = (await (await admin('/usage?by=key&since=1d&key=cursor-dev')).json()) as {
      data: Array<{ requests: number }>;
    };
    expect(frontend?.requests).toBeGreaterThan(0);
    expect(frontend?.requests).toBe(cursorRows.data[0]?.requests);
    expect((await admin('/usage?by=colour')).status).toBe(400);
  });

  it('reports usage by key hash prefix with when it was last used', async () => {
    const before = Date.now();
    expect((await chat(key)).status).toBe(200);
    const res = await admin('/usage?by=hash&key=cursor-dev&since=1d');
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as {
      data: Array<{ key: string; hash: string; requests: number; last_used: string }>;
    };
    expect(data).toEqual([
      expect.objectContaining({ key: 'cursor-dev', hash: hashKey(key).slice('sha256:'.length, 19) }),
    ]);
    expect(Date.parse(data[0]!.last_used)).toBeGreaterThanOrEqual(before - 1000);
  });
});

describe('a store that cannot be reached', () => {
  it('fails closed with 503 store_unavailable and says so on /healthz', async () => {
    const broken = await startTestServer({ yaml: yaml(), env: { FAKE_KEY: 'k' } });
    try {
      await broken.server.deps.store.close();
      const health = await fetch(`${broken.url}/healthz`);
      expect(health.status).toBe(503);
      const res = await fetch(`${broken.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'small', messages: [], max_tokens: 10 }),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('store_unavailable');
    } finally {
      await broken.close().catch(() => {});
    }
  });

  it("says at start why the store could not recover reservations, in the database's own words", async () => {
    const err = await startTestServer({
      yaml: yaml(),
      env: { FAKE_KEY: 'k' },
      openStore: async (url) => {
        const store = await openStore(url);
        return {
          ...store,
          recoverReservations: async () => {
            await store.close();
            throw storeFailure(new Error('database disk image is malformed'), 'SQLite');
          },
        };
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      'cannot recover the reservations a previous run left in the store: database disk image is malformed',
    );
  });

  it('answers the admin API 503 store_unavailable, not an internal error, when the embedded store fails', async () => {
    const broken = await startTestServer({
      yaml: yaml(),
      env: { FAKE_KEY: 'k', TOLLGATE_ADMIN_TOKEN: ADMIN },
    });
    try {
      await broken.server.deps.store.close();
      const res = await fetch(`${broken.url}/admin/usage?by=key`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('store_unavailable');
      expect(body.error.message).not.toContain('closed');
    } finally {
      await broken.close().catch(() => {});
    }
  });
});
