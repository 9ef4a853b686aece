import { request } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeUpstream, hang, json, resetNow, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

let upstream: FakeUpstream;
let gw: Harness;

const EXTRA_KEYS = `  off-file:
    hash: {{hash:off-file}}
    disabled: true
  slack-off:
    hash: {{hash:slack-off}}
  old:
    hash: {{hash:old}}
    owner: bob
    expires: 2020-01-31
  tiny:
    hash: {{hash:tiny}}
    limits: { daily_usd: 0.0001 }
  slow:
    hash: {{hash:slow}}
    limits: { rpm: 2 }
  capped:
    hash: {{hash:capped}}
    limits: { max_output_tokens: 100 }
  local-user:
    hash: {{hash:local-user}}
    models: [llama-local]
  once:
    hash: {{hash:once}}
    limits: { rpm: 1 }
`;

interface Reply {
  status: number;
  headers: Headers;
  body: { error: { code: string; message: string; type: string; param: null } };
  text: string;
}

async function call(
  path: string,
  key: string | undefined,
  body?: unknown,
  init: RequestInit = {},
): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    ...init,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as Reply['body'], text };
}

const chat = (model = 'gpt-4o-mini', extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content: 'the-prompt-text' }],
  ...extra,
});

/** Every error reply: the code, the shape, both tollgate headers, no secret in it. */
function expectError(r: Reply, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.body.error.code).toBe(code);
  expect(r.body.error.param).toBeNull();
  expect(typeof r.body.error.type).toBe('string');
  expect(r.headers.get('x-tollgate-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  expect(r.headers.get('x-tollgate-key')).toBeTruthy();
  for (const k of Object.values(gw.keys)) expect(r.text).not.toContain(k);
  expect(r.text).not.toContain('the-prompt-text');
  expect(r.text).not.toContain('sk-upstream');
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: standardYaml(upstream.baseUrl, { keys: EXTRA_KEYS }) });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

beforeEach(() => {
  upstream.reset();
  gw.records.length = 0;
});

describe('the gateway refuses in the documented order with a clear error for each check', () => {
  it('refuses a request without a key with invalid_api_key and still records it', async () => {
    const r = await call('/v1/chat/completions', undefined, chat());
    expectError(r, 401, 'invalid_api_key');
    expect(r.headers.get('x-tollgate-key')).toBe('-');
    expect(r.body.error.message).toContain('Authorization: Bearer');
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({
      key: '',
      status: 401,
      errorCode: 'invalid_api_key',
      costUsd: 0,
      usageSource: 'none',
    });
  });

  it('refuses a malformed key and an unknown well-formed key without echoing either', async () => {
    expectError(await call('/v1/chat/completions', 'sk-not-a-tollgate-key', chat()), 401, 'invalid_api_key');
    const unknown = `tgk_${'A'.repeat(32)}`;
    const bad = await call('/v1/chat/completions', `${unknown}AAAAAA`, chat());
    expectError(bad, 401, 'invalid_api_key');
    expect(bad.text).not.toContain(unknown);
    expect(upstream.received).toHaveLength(0);
  });

  it('tells the openai SDK the code of an unknown key', async () => {
    const client = new OpenAI({ apiKey: 'sk-wrong', baseURL: gw.baseURL, maxRetries: 0 });
    const err = await client.chat.completions.create(chat() as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('invalid_api_key');
  });

  it('refuses a key disabled in keys.yaml', async () => {
    const r = await call('/v1/chat/completions', gw.keys['off-file'], chat());
    expectError(r, 401, 'key_disabled');
    expect(r.headers.get('x-tollgate-key')).toBe('off-file');
    expect(r.body.error.message).toContain("key 'off-file' is disabled in keys.yaml");
  });

  it('refuses a key disabled from Slack, naming who and why', async () => {
    await gw.store.setDisabled({
      key: 'slack-off',
      reason: 'looping',
      by: 'U01ALICE',
      source: 'slack',
      at: Date.now(),
    });
    await gw.disables.refresh();
    const r = await call('/v1/chat/completions', gw.keys['slack-off'], chat());
    expectError(r, 401, 'key_disabled');
    expect(r.body.error.message).toContain('U01ALICE');
    expect(r.body.error.message).toContain('looping');
    expect(r.body.error.message).toContain('/enable-key slack-off');
    await gw.store.clearDisabled('slack-off');
    await gw.disables.refresh();
    expect((await call('/v1/chat/completions', gw.keys['slack-off'], chat())).status).toBe(200);
  });

  it('refuses an expired key, saying when it expired and who can extend it', async () => {
    const r = await call('/v1/chat/completions', gw.keys.old, chat());
    expectError(r, 401, 'key_expired');
    expect(r.body.error.message).toContain('2020-01-31');
    expect(r.body.error.message).toContain('bob');
  });

  it('refuses a body that is not JSON or has no model with invalid_request', async () => {
    expectError(
      await call('/v1/chat/completions', gw.keys['cursor-dev'], '{not json'),
      400,
      'invalid_request',
    );
    const r = await call('/v1/chat/completions', gw.keys['cursor-dev'], { messages: [] });
    expectError(r, 400, 'invalid_request');
    expect(r.body.error.message).toContain("no 'model'");
  });

  it('refuses a body above 32 MB with 400 invalid_request without reading it', async () => {
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${gw.keys['cursor-dev']}`,
          'content-type': 'application/json',
          'content-length': String(40 * 1024 * 1024),
        },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('{"model":"gpt-4o-mini","messages":[');
    });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body).error.code).toBe('invalid_request');
    expect(JSON.parse(reply.body).error.message).toContain('larger than tollgate');
  });

  it('refuses an unknown model with model_not_found, listing what the key may use', async () => {
    const r = await call('/v1/chat/completions', gw.keys['claude-code'], chat('gpt-9'));
    expectError(r, 404, 'model_not_found');
    expect(r.body.error.message).toContain('claude-house-1');
    // The record keeps the name asked for: which tool asks for models that do not exist.
    const [record] = await gw.waitForRecords(1);
    expect(record).toMatchObject({ model: 'gpt-9', status: 404, errorCode: 'model_not_found' });
  });

  it("refuses a model outside the key's allow-list with model_not_allowed", async () => {
    const r = await call('/v1/embeddings', gw.keys['claude-code'], {
      model: 'text-embedding-3-small',
      input: 'x',
    });
    expectError(r, 403, 'model_not_allowed');
    expect(r.body.error.message).toContain('claude-*');
    expect(upstream.received).toHaveLength(0);
  });

  it('answers 503 upstream_not_configured naming the unset environment variable', async () => {
    const r = await call('/v1/chat/completions', gw.keys['local-user'], chat('llama-local'));
    expectError(r, 503, 'upstream_not_configured');
    expect(r.body.error.message).toContain('LOCAL_LLM_KEY');
  });

  it("lowers output above the key's cap to the cap and says so, and adds the cap when none is asked, saying so too", async () => {
    const r = await call('/v1/chat/completions', gw.keys.capped, chat('gpt-4o-mini', { max_tokens: 500 }));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-tollgate-output-capped')).toBe('100');
    expect(upstream.received[0]?.json?.max_tokens).toBe(100);
    const plain = await call('/v1/chat/completions', gw.keys.capped, chat());
    expect(plain.status).toBe(200);
    expect(plain.headers.get('x-tollgate-output-capped')).toBe('100');
    expect(upstream.received[1]?.json?.max_completion_tokens).toBe(100);
  });

  it('refuses past rpm with rate_limit_exceeded, Retry-After and x-ratelimit headers', async () => {
    expect((await call('/v1/chat/completions', gw.keys.slow, chat())).status).toBe(200);
    expect((await call('/v1/chat/completions', gw.keys.slow, chat())).status).toBe(200);
    const r = await call('/v1/chat/completions', gw.keys.slow, chat());
    expectError(r, 429, 'rate_limit_exceeded');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(r.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(r.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(r.body.error.message).toContain("key 'slow'");
  });

  it('refuses a request whose maximum cost does not fit the budget with insufficient_quota', async () => {
    const r = await call('/v1/chat/completions', gw.keys.tiny, chat());
    expectError(r, 429, 'insufficient_quota');
    expect(r.body.error.message).toMatch(
      /^key 'tiny' has spent \$0\.0000 of its \$0\.0001 daily limit; this request may cost up to \$0\.0\d+; the limit resets at \d{4}-\d\d-\d\d 00:00 Europe\/Berlin$/,
    );
    expect(upstream.received).toHaveLength(0);
  });

  it('gives the openai SDK insufficient_quota as a RateLimitError with its code', async () => {
    const client = new OpenAI({ apiKey: gw.keys.tiny, baseURL: gw.baseURL, maxRetries: 0 });
    const err = await client.chat.completions.create(chat() as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('insufficient_quota');
  });

  it('answers any other /v1 path or method with 404 not_found and proxies nothing', async () => {
    expectError(await call('/v1/files', gw.keys['cursor-dev'], {}), 404, 'not_found');
    const get = await call('/v1/chat/completions', gw.keys['cursor-dev'], undefined, { method: 'GET' });
    expectError(get, 404, 'not_found');
    expect(get.headers.get('x-tollgate-key')).toBe('cursor-dev');
    expect(upstream.received).toHaveLength(0);
  });

  it('passes upstream 500 and 429 bodies through unchanged and records them as errors', async () => {
    const body500 = { error: { message: 'The server had an error', type: 'server_error', code: null } };
    upstream.next(json(500, body500));
    const r500 = await call('/v1/chat/completions', gw.keys['cursor-dev'], chat());
    expect(r500.status).toBe(500);
    expect(r500.text).toBe(JSON.stringify(body500));
    upstream.next(
      json(
        429,
        { error: { message: 'Rate limit reached', code: 'rate_limit_exceeded' } },
        { 'retry-after': '7' },
      ),
    );
    const r429 = await call('/v1/chat/completions', gw.keys['cursor-dev'], chat());
    expect(r429.status).toBe(429);
    expect(r429.headers.get('retry-after')).toBe('7');
    const records = await gw.waitForRecords(2);
    expect(records.map((r) => [r.status, r.errorCode, r.costUsd])).toEqual([
      [500, 'upstream_500', 0],
      [429, 'upstream_429', 0],
    ]);
  });

  it('answers 504 upstream_timeout when the upstream hangs past timeout_ms', async () => {
    const fast = await startGateway({ yaml: standardYaml(upstream.baseUrl, { timeoutMs: 300 }) });
    try {
      upstream.next(hang);
      const started = Date.now();
      const res = await fetch(`${fast.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${fast.keys['cursor-dev']}`, 'content-type': 'application/json' },
        body: JSON.stringify(chat()),
      });
      expect(res.status).toBe(504);
      expect(((await res.json()) as Reply['body']).error.code).toBe('upstream_timeout');
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      const [rec] = await fast.waitForRecords(1);
      // Not streamed: the provider may have generated (and billed) all of it, so the reservation is charged.
      expect(rec).toMatchObject({ status: 504, errorCode: 'upstream_timeout', usageSource: 'reserved' });
    } finally {
      await fast.close();
    }
  });

  it('answers 502 upstream_error for a dead upstream and keeps serving', async () => {
    const dead = await startFakeUpstream();
    const deadUrl = dead.baseUrl;
    await dead.close();
    const broken = await startGateway({ yaml: standardYaml(deadUrl) });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${broken.baseURL}/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${broken.keys['cursor-dev']}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify(chat()),
        });
        expect(res.status).toBe(502);
        expect(((await res.json()) as Reply['body']).error.code).toBe('upstream_error');
      }
      const records = await broken.waitForRecords(3);
      expect(records.every((r) => r.errorCode === 'upstream_error' && r.costUsd === 0)).toBe(true);
      // One log line per request, carrying the cause.
      const lines = broken.logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.filter((l) => l.msg === 'request')).toHaveLength(3);
      expect(
        lines.filter((l) => l.msg === 'request').every((l) => l.detail === 'upstream_failed: ECONNREFUSED'),
      ).toBe(true);
      expect(lines).toHaveLength(3);
      const models = await fetch(`${broken.baseURL}/models`, {
        headers: { authorization: `Bearer ${broken.keys['cursor-dev']}` },
      });
      expect(models.status).toBe(200);
    } finally {
      await broken.close();
    }
  });

  it('fails closed with 503 store_unavailable when the store cannot reserve', async () => {
    const reserve = gw.store.reserve;
    gw.store.reserve = async () => {
      throw new Error('database is locked');
    };
    try {
      const r = await call('/v1/chat/completions', gw.keys['cursor-dev'], chat());
      expectError(r, 503, 'store_unavailable');
      expect(r.text).not.toContain('database is locked');
      expect(r.body.error.message).toContain("key 'cursor-dev'");
      expect(upstream.received).toHaveLength(0);
    } finally {
      gw.store.reserve = reserve;
    }
  });

  const sdkCases: Array<
    [code: string, status: number, key: string, model: string, extra?: Record<string, unknown>]
  > = [
    ['invalid_api_key', 401, 'nobody', 'gpt-4o-mini'],
    ['key_disabled', 401, 'off-file', 'gpt-4o-mini'],
    ['key_expired', 401, 'old', 'gpt-4o-mini'],
    ['invalid_request', 400, 'cursor-dev', '', {}],
    ['model_not_found', 404, 'cursor-dev', 'gpt-9'],
    ['model_not_allowed', 403, 'claude-code', 'llama-local'],
    ['upstream_not_configured', 503, 'local-user', 'llama-local'],
    ['rate_limit_exceeded', 429, 'once', 'gpt-4o-mini'],
    ['insufficient_quota', 429, 'tiny', 'gpt-4o-mini'],
    ['upstream_error', 502, 'cursor-dev', 'gpt-4o-mini'],
    ['store_unavailable', 503, 'cursor-dev', 'gpt-4o-mini'],
  ];

  it.each(sdkCases)(
    'gives the openai SDK %s with status %i',
    async (code, status, key, model, extra = {}) => {
      const client = new OpenAI({ apiKey: gw.keys[key] ?? 'sk-nobody', baseURL: gw.baseURL, maxRetries: 0 });
      const create = () => client.chat.completions.create({ ...chat(model, extra) } as never);
      if (code === 'rate_limit_exceeded') await create();
      // Twice: a reset on a kept-alive connection is retried once on a fresh one.
      if (code === 'upstream_error') for (let i = 0; i < 2; i++) upstream.next(resetNow);
      const reserve = gw.store.reserve;
      if (code === 'store_unavailable') {
        gw.store.reserve = async () => {
          throw new Error('connection refused');
        };
      }
      try {
        const err = await create().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OpenAI.APIError);
        const apiErr = err as InstanceType<typeof OpenAI.APIError>;
        expect(apiErr.status).toBe(status);
        expect(apiErr.code).toBe(code);
        expect(apiErr.headers?.get('x-tollgate-request-id')).toBeTruthy();
      } finally {
        gw.store.reserve = reserve;
      }
    },
  );
});
