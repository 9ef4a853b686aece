import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { MIN_FITTED_OUTPUT_TOKENS } from '../../src/policy/fit-output.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { SpendReader, Store, UsageRecord } from '../../src/store/types.js';
import { type FakeUpstream, type Received, sleep, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

/**
 * The reservation is a true upper bound (docs/api.md#metering-briefly): a request that sets no output limit
 * gets the reserved bound written into it, so a model that would write 10,000 tokens cannot spend past a
 * $0.20 limit (the case: before, it reserved 4,096 tokens and spent $0.30).
 */

const LIMIT = 0.2;
/** $30 per million output tokens: 10,000 tokens cost $0.30. */
const OUTPUT_PRICE = 30;
const WOULD_WRITE = 10_000;

const yamlFor = (base: string, hash: string, modelMax = '') => `version: 1
upstreams:
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
models:
  verbose:
    upstream: openai
    input_per_mtok: 1
    output_per_mtok: ${OUTPUT_PRICE}
${modelMax}keys:
  codex:
    hash: ${hash}
    limits: { daily_usd: ${LIMIT} }
`;

/** The output cap a request carries, in whichever field its route uses. */
function capOf(r: Received): number | undefined {
  const b = r.json ?? {};
  for (const f of ['max_tokens', 'max_completion_tokens', 'max_output_tokens']) {
    if (typeof b[f] === 'number') return b[f] as number;
  }
  return undefined;
}

/** A model that writes 10,000 tokens unless the request caps it lower, and bills honestly. */
function verboseUpstream(up: FakeUpstream, n: number) {
  for (let i = 0; i < n; i++) {
    up.next(async (req, res) => {
      await sleep(30);
      const out = Math.min(capOf(req) ?? WOULD_WRITE, WOULD_WRITE);
      const input = Math.ceil(req.body.length / 4);
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url.startsWith('/v1/responses')) {
        res.end(
          JSON.stringify({
            id: 'resp_1',
            object: 'response',
            status: out < WOULD_WRITE ? 'incomplete' : 'completed',
            output: [],
            usage: { input_tokens: input, output_tokens: out, total_tokens: input + out },
          }),
        );
      } else {
        res.end(
          JSON.stringify({
            id: 'c',
            object: 'chat.completion',
            choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'length' }],
            usage: { prompt_tokens: input, completion_tokens: out, total_tokens: input + out },
          }),
        );
      }
    });
  }
}

function send(url: string, key: string, i: number) {
  // Codex-style: /v1/responses without max_output_tokens; the others chat without max_tokens.
  const responses = i % 2 === 0;
  return fetch(`${url}/v1/${responses ? 'responses' : 'chat/completions'}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(
      responses
        ? { model: 'verbose', input: 'write a long story' }
        : { model: 'verbose', messages: [{ role: 'user', content: 'write a long story' }] },
    ),
  });
}

async function expectWithinLimit(
  up: FakeUpstream,
  records: UsageRecord[],
  statuses: number[],
  store: SpendReader,
) {
  const ok = statuses.filter((s) => s === 200).length;
  expect(ok).toBeGreaterThan(0);
  expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
  // Every forwarded request carried a cap, and none let the model write its 10,000 tokens.
  expect(up.received).toHaveLength(ok);
  for (const r of up.received) expect(capOf(r)).toBeLessThan(WOULD_WRITE);
  const charged = records.reduce((sum, r) => sum + r.costUsd, 0);
  expect(charged).toBeLessThanOrEqual(LIMIT + 1e-12);
  const day = records[0]?.day as string;
  const spend = await store.getSpend('codex', [`d:${day}`]);
  expect(spend[`d:${day}`]?.spentUsd).toBeLessThanOrEqual(LIMIT + 1e-12);
  expect(spend[`d:${day}`]?.reservedUsd).toBe(0);
}

describe('the output bound on the embedded store', () => {
  let up: FakeUpstream;
  let gw: Harness | undefined;
  const key = mintKey();
  beforeAll(async () => {
    up = await startFakeUpstream();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    up.reset();
  });
  afterAll(async () => {
    await up.close();
  });

  it("writes the model's max_output_tokens into a request that sets none, says so, and keeps the issue's overshoot within the limit", async () => {
    gw = await startGateway({ yaml: yamlFor(up.baseUrl, hashKey(key), '    max_output_tokens: 4096\n') });
    verboseUpstream(up, 1);
    const r = await send(gw.url, key, 1);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-tollgate-output-capped')).toBe('4096');
    expect(up.received[0]?.json?.max_completion_tokens).toBe(4096);
    const [record] = await gw.waitForRecords(1);
    expect(record?.outputTokens).toBe(4096);
    expect(record?.costUsd).toBeLessThan(LIMIT);
  });

  it('lowers the bound of a Codex-style request to what is left of the budget, and refuses once under 1,024 tokens fit', async () => {
    gw = await startGateway({ yaml: yamlFor(up.baseUrl, hashKey(key)) });
    verboseUpstream(up, 3);
    // 16,384 tokens ($0.49) do not fit in $0.20: the gateway writes in what fits instead of refusing.
    const first = await send(gw.url, key, 0);
    expect(first.status).toBe(200);
    const cap = Number(first.headers.get('x-tollgate-output-capped'));
    expect(cap).toBeGreaterThanOrEqual(6_000);
    expect(cap).toBeLessThan(LIMIT / (OUTPUT_PRICE / 1e6));
    expect(up.received[0]?.json?.max_output_tokens).toBe(cap);
    const [record] = await gw.waitForRecords(1);
    expect(record?.costUsd).toBeLessThanOrEqual(LIMIT);
    // What is left is worth less than MIN_FITTED_OUTPUT_TOKENS: refused, final for SDKs.
    const second = await send(gw.url, key, 0);
    expect(second.status).toBe(429);
    expect(second.headers.get('x-should-retry')).toBe('false');
    expect(up.received).toHaveLength(1);
    expect(LIMIT - (record?.costUsd ?? 0)).toBeLessThan(
      (MIN_FITTED_OUTPUT_TOKENS * OUTPUT_PRICE) / 1e6 + 0.01,
    );
  });

  it('keeps 12 concurrent requests without an output limit within a $0.20 limit', async () => {
    gw = await startGateway({ yaml: yamlFor(up.baseUrl, hashKey(key), '    max_output_tokens: 4096\n') });
    verboseUpstream(up, 12);
    const h = gw;
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => send(h.url, key, i).then((r) => r.status)),
    );
    const records = await h.waitForRecords(12);
    await expectWithinLimit(up, records, statuses, h.store);
  });
});

describe('the reservation of a prompt that asks for caching', () => {
  it('keeps concurrent requests within the limit when every input token is billed as a 1-hour cache write', async () => {
    const up = await startFakeUpstream();
    const key = mintKey();
    const limit = 0.05;
    const gw = await startGateway({
      yaml: `version: 1
upstreams:
  anthropic:
    base_url: ${up.baseUrl}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
models:
  claude-house:
    upstream: anthropic
    input_per_mtok: 3
    output_per_mtok: 15
keys:
  agent:
    hash: ${hashKey(key)}
    limits: { daily_usd: ${limit} }
`,
    });
    // An honest provider: about 4 bytes per token, the whole prompt written to the 1-hour cache.
    for (let i = 0; i < 10; i++) {
      up.next(async (req, res) => {
        await sleep(30);
        const tokens = Math.ceil(req.body.length / 4);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'msg',
            type: 'message',
            role: 'assistant',
            content: [{ type: 'text', text: 'ok' }],
            usage: {
              input_tokens: 0,
              cache_read_input_tokens: 0,
              cache_creation_input_tokens: tokens,
              cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: tokens },
              output_tokens: 10,
            },
          }),
        );
      });
    }
    const body = JSON.stringify({
      model: 'claude-house',
      max_tokens: 10,
      system: [
        { type: 'text', text: 'rules '.repeat(3_500), cache_control: { type: 'ephemeral', ttl: '1h' } },
      ],
      messages: [{ role: 'user', content: 'go' }],
    });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`${gw.url}/v1/messages`, {
            method: 'POST',
            headers: {
              'x-api-key': key,
              'content-type': 'application/json',
              'anthropic-version': '2023-06-01',
            },
            body,
          }).then((r) => r.status),
        ),
      );
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
      const records = await gw.waitForRecords(10);
      const charged = records.reduce((sum, r) => sum + r.costUsd, 0);
      expect(records.filter((r) => r.status === 200).every((r) => (r.cacheWriteTokens ?? 0) > 0)).toBe(true);
      expect(charged).toBeLessThanOrEqual(limit + 1e-12);
    } finally {
      await gw.close();
      await up.close();
    }
  });
});

describe('the output bound on PostgreSQL, two replicas', () => {
  let db: TestDatabase;
  let up: FakeUpstream;
  const gws: Harness[] = [];
  const stores: Store[] = [];
  const key = mintKey();
  beforeAll(async () => {
    db = await createTestDatabase();
    up = await startFakeUpstream();
  });
  afterAll(async () => {
    for (const g of gws) await g.close();
    for (const s of stores) await s.close();
    await up.close();
    await db.drop();
  });

  it('keeps 16 concurrent requests without an output limit, across two replicas, within a $0.20 limit', async () => {
    for (let i = 0; i < 2; i++) {
      const store = createPostgresStore(db.url, { poolSize: 4 });
      await store.init();
      stores.push(store);
      gws.push(await startGateway({ yaml: yamlFor(up.baseUrl, hashKey(key)), store }));
    }
    verboseUpstream(up, 16);
    const statuses = await Promise.all(
      Array.from({ length: 16 }, (_, i) => send((gws[i % 2] as Harness).url, key, i).then((r) => r.status)),
    );
    const records = [...(gws[0] as Harness).records, ...(gws[1] as Harness).records];
    for (let t = 0; records.length < 16 && t < 200; t++) {
      await sleep(10);
      records.splice(0, records.length, ...(gws[0] as Harness).records, ...(gws[1] as Harness).records);
    }
    expect(records).toHaveLength(16);
    await expectWithinLimit(up, records, statuses, stores[0] as SpendReader);
  });
});

describe('a spent budget is final for the official OpenAI SDK', () => {
  it('sends a request against a spent budget exactly once, with Retry-After until the window resets', async () => {
    const up = await startFakeUpstream();
    const key = mintKey();
    const gw = await startGateway({
      yaml: yamlFor(up.baseUrl, hashKey(key)).replace(`daily_usd: ${LIMIT}`, 'daily_usd: 0'),
    });
    const attempts: number[] = [];
    const client = new OpenAI({
      apiKey: key,
      baseURL: gw.baseURL,
      maxRetries: 2,
      fetch: async (url, init) => {
        attempts.push(Date.now());
        const r = await fetch(url, init);
        const retryAfter = Number(r.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThan(0);
        expect(retryAfter).toBeLessThanOrEqual(86_400);
        return r;
      },
    });
    try {
      await expect(
        client.chat.completions.create({ model: 'verbose', messages: [{ role: 'user', content: 'hi' }] }),
      ).rejects.toMatchObject({ status: 429, code: 'insufficient_quota' });
      expect(attempts).toHaveLength(1);
      expect(up.received).toHaveLength(0);
    } finally {
      await gw.close();
      await up.close();
    }
  });
});
