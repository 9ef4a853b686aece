import { readFileSync } from 'node:fs';
import { calcPrice } from '@pydantic/genai-prices';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * Every audio format a voice tool uploads, through the real gateway with the official client:
 * M4A/MP4 (Safari's MediaRecorder), OGG/Opus (Firefox), WebM/Opus, and WebM as Chrome's
 * MediaRecorder writes it (Open WebUI's voice input: no Duration, Clusters of unknown size).
 * Each is 2.5 s of audio (test/fixtures/audio/README.md): whisper-1 is bounded and charged by
 * the 3 whole seconds read from the file, and the file reaches the upstream byte for byte.
 */

const THRIFTY = `  thrifty:
    hash: {{hash:thrifty}}
    limits: { daily_usd: 0.0002 }
`;

const FORMATS = [
  ['speech.m4a', 'audio/mp4'],
  ['speech.mp4', 'audio/mp4'],
  ['speech-fragmented.mp4', 'audio/mp4'],
  ['speech.ogg', 'audio/ogg'],
  ['speech.webm', 'audio/webm'],
  ['speech-mediarecorder.webm', 'audio/webm;codecs=opus'],
  ['speech-mediarecorder-unknown-sizes.webm', 'audio/webm;codecs=opus'],
] as const;

const fixture = (name: string) => readFileSync(new URL(`../fixtures/audio/${name}`, import.meta.url));
const catalog = (model: string, usage: Record<string, number>) =>
  calcPrice(usage, model, { providerId: 'openai' })?.total_price ?? Number.NaN;
const expectUsd = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThan(1e-9);

let upstream: FakeUpstream;
let gw: Harness;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: mediaYaml(upstream.baseUrl, THRIFTY) });
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});
beforeEach(() => {
  gw.records.length = 0;
  upstream.reset();
});

describe('a whisper-1 transcription of each format a browser or voice tool records', () => {
  for (const [name, type] of FORMATS) {
    it(`bounds and charges ${name} by the seconds read from the file, and forwards it unchanged`, async () => {
      const client = new OpenAI({ apiKey: gw.keys.studio, baseURL: gw.baseURL, maxRetries: 0 });
      const bytes = fixture(name);
      const t = await client.audio.transcriptions.create({
        model: 'whisper-1',
        file: await toFile(bytes, name, { type }),
        response_format: 'text',
      });
      expect(String(t).trim()).toBeTruthy();
      expect(upstream.received).toHaveLength(1);
      expect(upstream.received[0]?.raw.includes(bytes)).toBe(true);
      const records = await gw.waitForRecords(1);
      const rec = records.at(-1) as UsageRecord;
      // A text answer reports no usage: the charge is the duration read from the file.
      expect(rec).toMatchObject({ usageSource: 'estimated', audioSeconds: 3 });
      expectUsd(rec.costUsd, catalog('whisper-1', { audio_seconds: 3, input_audio_seconds: 3 }));
    });
  }
});

describe('a whisper-1 json answer for each format, with usage.seconds as OpenAI reports it', () => {
  for (const [name, type] of FORMATS) {
    it(`charges ${name} by the upstream's usage.seconds, the audio's decoded 3 whole seconds`, async () => {
      const client = new OpenAI({ apiKey: gw.keys.studio, baseURL: gw.baseURL, maxRetries: 0 });
      const t = await client.audio.transcriptions.create({
        model: 'whisper-1',
        file: await toFile(fixture(name), name, { type }),
      });
      // The fake reports what a decoder finds (test/fixtures/audio/durations.json), as OpenAI
      // does: a MediaRecorder WebM, in which music-metadata finds no duration, plays 2.514 s.
      expect((t as unknown as { usage: unknown }).usage).toEqual({ type: 'duration', seconds: 3 });
      const rec = (await gw.waitForRecords(1)).at(-1) as UsageRecord;
      expect(rec).toMatchObject({ usageSource: 'provider', audioSeconds: 3 });
      expectUsd(rec.costUsd, catalog('whisper-1', { audio_seconds: 3, input_audio_seconds: 3 }));
    });
  }
});

describe('the reservation of a transcription, from the seconds read from its file', () => {
  for (const [name, type] of [FORMATS[6], FORMATS[3]]) {
    it(`reserves the seconds read from ${name}, refusing it 429 before the upstream when they do not fit`, async () => {
      const client = new OpenAI({ apiKey: gw.keys.thrifty, baseURL: gw.baseURL, maxRetries: 0 });
      const err = await client.audio.transcriptions
        .create({ model: 'whisper-1', file: await toFile(fixture(name), name, { type }) })
        .catch((e: unknown) => e);
      // 2.5 s read, bounded as 3 whole seconds plus one (metering/media-prices.ts): $0.0004 at
      // whisper-1's $0.006 a minute, over the key's $0.0002 a day.
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(String((err as Error).message)).toMatch(/\(4 seconds of audio\)/);
      expect(upstream.received).toHaveLength(0);
    });
  }
});
