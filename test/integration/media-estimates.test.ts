import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { wavFile } from '../helpers/audio-files.js';
import { MEDIA, mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * What an image or audio answer that reports no usage of its own is charged, through the real
 * gateway with the official client: never $0 for work the provider bills.
 */

let upstream: FakeUpstream;
let gw: Harness;
let client: OpenAI;

const expectUsd = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThan(1e-9);

async function lastRecord(): Promise<UsageRecord> {
  const records = await gw.waitForRecords(1);
  return records.at(-1) as UsageRecord;
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: mediaYaml(upstream.baseUrl) });
  client = new OpenAI({ apiKey: gw.keys.studio, baseURL: gw.baseURL, maxRetries: 0 });
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});
beforeEach(() => {
  gw.records.length = 0;
  upstream.reset();
});

describe('unit-priced images of a shape image_usd does not list', () => {
  it('charges them at the price the bound reserved, not at $0', async () => {
    upstream.next((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ created: 1, data: [{ url: 'https://example.invalid/i.png' }], size: '2048x2048' }),
      );
    });
    // 1024x1024 at any quality: the dearest such entry, hd, at $0.08.
    await client.images.generate({ model: 'dall-e-3', prompt: 'x', size: '1024x1024' });
    const rec = await lastRecord();
    expect(rec).toMatchObject({ images: 1, usageSource: 'provider' });
    expectUsd(rec.costUsd, 0.08);
  });
});

describe('token-priced transcriptions in text, srt and vtt', () => {
  it.each(['text', 'srt', 'vtt'] as const)(
    'estimates the output tokens of a %s answer from its characters',
    async (format) => {
      const t = await client.audio.transcriptions.create({
        model: 'gpt-4o-mini-transcribe',
        file: await toFile(wavFile(3), 'note.wav'),
        response_format: format,
      });
      const body = String(t);
      expect(body).toContain(MEDIA.transcript);
      const rec = await lastRecord();
      expect(rec).toMatchObject({ usageSource: 'estimated', audioSeconds: 3 });
      // The client's string is the body as sent (the SDK returns text formats untouched).
      expect(rec.outputTokens).toBeGreaterThanOrEqual(Math.ceil(MEDIA.transcript.length / 4));
      expect(rec.outputTokens).toBe(Math.ceil(body.length / 4));
    },
  );
});

describe('speech on a token-priced voice', () => {
  const BUDGETED = `  reader:
    hash: {{hash:reader}}
    limits: { daily_usd: 0.05 }
`;
  let small: Harness;
  beforeAll(async () => {
    small = await startGateway({ yaml: mediaYaml(upstream.baseUrl, BUDGETED) });
  });
  afterAll(async () => {
    await small.close();
  });

  it('bounds the audio by the input and the speed, refusing slow speech that could outspend the budget', async () => {
    const c = new OpenAI({ apiKey: small.keys.reader, baseURL: small.baseURL, maxRetries: 0 });
    const input = 'x'.repeat(100);
    // 100 characters at speed 1: at most 100 s of audio, 2500 tokens at $12/M, $0.03: fits $0.05.
    const ok = await c.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input });
    expect((await ok.arrayBuffer()).byteLength).toBe(MEDIA.audio.length);
    // At speed 0.25 the same text can last four times as long: $0.12 does not fit.
    const err = await c.audio.speech
      .create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input, speed: 0.25 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(String((err as Error).message)).toMatch(/400 seconds of audio/);
    expect(upstream.received).toHaveLength(1);
  });

  it("estimates a long binary answer's audio from its characters, not capped at max_output_tokens", async () => {
    const input = 'y'.repeat(3000);
    const res = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input });
    await res.arrayBuffer();
    const rec = await lastRecord();
    // 3000 characters at about 15 a second, 21 audio tokens a second: above the model's 2000.
    expect(rec).toMatchObject({ usageSource: 'estimated', characters: 3000, outputTokens: 4200 });
  });
});
