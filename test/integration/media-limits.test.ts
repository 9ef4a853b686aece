import OpenAI, { toFile } from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { wavFile } from '../helpers/audio-files.js';
import { cannedMedia, mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, sleep, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';
import { multipart, postMultipart as post } from '../helpers/multipart-post.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

/**
 * Hard budgets over images and audio, and bad uploads: a request whose bound does not fit is
 * refused before it reaches the upstream, concurrent image requests never spend past a small
 * daily limit (one SQLite gateway, two PostgreSQL replicas), and a body tollgate cannot bound is
 * a clear 400 naming the field, with nothing forwarded.
 */

/** A gpt-image-1 1024x1024 high image reserves $0.1664 of output plus its prompt: three fit in $0.50. */
const LIMITED = `  painter:
    hash: {{hash:painter}}
    models: [gpt-image-1]
    limits: { daily_usd: 0.5 }
  broke:
    hash: {{hash:broke}}
    limits: { daily_usd: 0.01 }
`;
const ASK = {
  model: 'gpt-image-1',
  prompt: 'a lighthouse at dusk',
  size: '1024x1024',
  quality: 'high',
} as const;

/** Fires `n` image requests at once, spread over the gateways; their statuses. */
async function fireImages(gateways: Harness[], n: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const gw = gateways[i % gateways.length] as Harness;
      const c = new OpenAI({ apiKey: gw.keys.painter, baseURL: gw.baseURL, maxRetries: 0 });
      try {
        await c.images.generate(ASK);
        return 200;
      } catch (err) {
        return (err as { status?: number }).status ?? 0;
      }
    }),
  );
}

function slowAnswers(upstream: FakeUpstream, n: number) {
  for (let i = 0; i < n; i++)
    upstream.next(async (req, res) => {
      await sleep(150);
      await cannedMedia(req, res);
    });
}

describe('image and audio budgets on one SQLite gateway', () => {
  let upstream: FakeUpstream;
  let gw: Harness;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: mediaYaml(upstream.baseUrl, LIMITED) });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });
  beforeEach(() => {
    gw.records.length = 0;
    upstream.reset();
  });

  it('never lets concurrent image requests spend past a small daily limit', async () => {
    slowAnswers(upstream, 10);
    const statuses = await fireImages([gw], 10);
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBe(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    // Only the admitted requests reached the upstream.
    expect(upstream.received).toHaveLength(ok);
    const records = await gw.waitForRecords(10);
    const spent = records.reduce((sum, r) => sum + r.costUsd, 0);
    expect(spent).toBeLessThanOrEqual(0.5);
    expect(records.filter((r) => r.errorCode === 'insufficient_quota')).toHaveLength(7);
  });

  it('refuses a request whose bound does not fit before it reaches the upstream', async () => {
    const c = new OpenAI({ apiKey: gw.keys.broke, baseURL: gw.baseURL, maxRetries: 0 });
    const err = await c.audio.transcriptions
      .create({ model: 'whisper-1', file: await toFile(wavFile(600, 8000), 'long.wav') })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(String((err as Error).message)).toMatch(/may cost up to \$0\.07.*660 seconds of audio/);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('uploads tollgate cannot bound', () => {
  let upstream: FakeUpstream;
  let gw: Harness;
  const wav = wavFile(1);

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: mediaYaml(upstream.baseUrl) });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });
  beforeEach(() => {
    gw.records.length = 0;
    upstream.reset();
  });

  it('refuses a multipart body without a file, naming the field', async () => {
    const r = await post(gw, '/v1/audio/transcriptions', multipart([{ name: 'model', value: 'whisper-1' }]));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/no 'file' file/);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a multipart body without a model, naming the field', async () => {
    const r = await post(
      gw,
      '/v1/audio/transcriptions',
      multipart([{ name: 'file', value: wav, filename: 'a.wav' }]),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/no 'model'/);
    expect(upstream.received).toHaveLength(0);
  });

  it('records a truncated upload as a refusal and forwards nothing', async () => {
    const body = multipart([
      { name: 'model', value: 'whisper-1' },
      { name: 'file', value: wavFile(3), filename: 'a.wav' },
    ]);
    await post(gw, '/v1/audio/transcriptions', body, { cutAt: 20_000 });
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({ status: 400, errorCode: 'invalid_request', costUsd: 0 });
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a 33 MB upload, naming the file, and forwards nothing', async () => {
    const body = multipart([
      { name: 'model', value: 'whisper-1' },
      { name: 'file', value: Buffer.alloc(33 * 1024 * 1024), filename: 'big.wav' },
    ]);
    const r = await post(gw, '/v1/audio/transcriptions', body);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/larger than tollgate's limit of 32 MB.*'file'/);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses an image edit without an image, naming the field', async () => {
    const r = await post(
      gw,
      '/v1/images/edits',
      multipart([
        { name: 'model', value: 'gpt-image-1' },
        { name: 'prompt', value: 'x' },
      ]),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/no 'image' file/);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a token-priced chat model on the image route, naming the price to set', async () => {
    const c = new OpenAI({ apiKey: gw.keys.studio, baseURL: gw.baseURL, maxRetries: 0 });
    const err = await c.images.generate({ model: 'gpt-4o-mini', prompt: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String((err as Error).message)).toMatch(/no image price.*image_usd/);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a model priced per character on a token route', async () => {
    const c = new OpenAI({ apiKey: gw.keys.studio, baseURL: gw.baseURL, maxRetries: 0 });
    const err = await c.chat.completions
      .create({ model: 'tts-1', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String((err as Error).message)).toMatch(/priced per image, character or minute/);
    expect(upstream.received).toHaveLength(0);
  });
});

describe.skipIf(process.env.TOLLGATE_TEST_SKIP_PG === '1')('image budgets on two PostgreSQL replicas', () => {
  let db: TestDatabase;
  let upstream: FakeUpstream;
  let stores: Store[] = [];
  let gateways: Harness[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    upstream = await startFakeUpstream();
  });
  afterEach(async () => {
    for (const g of gateways) await g.close();
    for (const s of stores) await s.close();
    gateways = [];
    stores = [];
  });
  afterAll(async () => {
    await upstream.close();
    await db.drop();
  });

  it('never lets concurrent image requests on two replicas spend past a small daily limit', async () => {
    stores = [createPostgresStore(db.url, { poolSize: 4 }), createPostgresStore(db.url, { poolSize: 4 })];
    for (const s of stores) await s.init();
    for (const store of stores)
      gateways.push(await startGateway({ yaml: mediaYaml(upstream.baseUrl, LIMITED), store }));
    slowAnswers(upstream, 12);
    const statuses = await fireImages(gateways, 12);
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBe(3);
    expect(upstream.received).toHaveLength(ok);
    const records = (await Promise.all(gateways.map((g) => g.waitForRecords(6)))).flat();
    expect(records.reduce((sum, r) => sum + r.costUsd, 0)).toBeLessThanOrEqual(0.5);
    const day = new Date().toISOString().slice(0, 10);
    const spend = await (stores[0] as Store).getSpend('painter', [`d:${day}`]);
    expect(spend[`d:${day}`]?.spentUsd ?? 0).toBeLessThanOrEqual(0.5);
    expect(spend[`d:${day}`]?.spentUsd ?? 0).toBeGreaterThan(0.49);
  });
});

describe('a client that leaves mid-audio', () => {
  let upstream: FakeUpstream;
  let gw: Harness;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: mediaYaml(upstream.baseUrl) });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  it('aborts the upstream, records 499 and still charges the characters the provider bills', async () => {
    // The upstream sends the first piece of audio, then keeps generating.
    upstream.next(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'audio/mpeg' });
      res.write(Buffer.alloc(4096, 1));
      await sleep(5_000);
      res.end();
    });
    const input = 'A long text read aloud, cut off by the listener.';
    const ctrl = new AbortController();
    const res = await fetch(`${gw.baseURL}/audio/speech`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.keys.studio}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input }),
      signal: ctrl.signal,
    });
    const reader = res.body?.getReader();
    await reader?.read();
    ctrl.abort();
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({ status: 499, errorCode: 'client_closed_request', characters: input.length });
    expect(Math.abs((rec?.costUsd ?? 0) - (input.length * 15) / 1e6)).toBeLessThan(1e-9);
    await upstream.waitForRequests(1);
    for (let i = 0; i < 100 && upstream.abortedAt.length === 0; i++) await sleep(20);
    expect(upstream.abortedAt.length).toBe(1);
  });
});
