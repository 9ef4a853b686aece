import { calcPrice } from '@pydantic/genai-prices';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { mp3File, mp3Seconds, wavFile } from '../helpers/audio-files.js';
import { MEDIA, mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * The image and audio routes driven by the official openai client, against the fake upstream's
 * real response shapes: costs to 1e-9 USD against the catalog's own prices, units recorded, the
 * bytes the client gets equal to what the upstream sent.
 */

let upstream: FakeUpstream;
let gw: Harness;
let client: OpenAI;

const catalog = (model: string, usage: Record<string, number>) =>
  calcPrice(usage, model, { providerId: 'openai' })?.total_price ?? Number.NaN;
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

describe('images through tollgate', () => {
  it('generates a gpt-image-1 image and charges its text and image-output tokens at the catalog price', async () => {
    const img = await client.images.generate({
      model: 'gpt-image-1',
      prompt: 'a lighthouse',
      size: '1024x1024',
    });
    expect(img.data?.[0]?.b64_json).toBeTruthy();
    const rec = await lastRecord();
    expect(rec).toMatchObject({
      key: 'studio',
      model: 'gpt-image-1',
      route: '/v1/images/generations',
      status: 200,
      usageSource: 'provider',
      images: 1,
      inputTokens: MEDIA.image.textTokens,
      outputTokens: MEDIA.image.outputTokensPerImage,
    });
    expectUsd(
      rec.costUsd,
      catalog('gpt-image-1', {
        input_tokens: MEDIA.image.textTokens,
        output_tokens: MEDIA.image.outputTokensPerImage,
      }),
    );
  });

  it('edits images sent as files, passing the files on byte for byte and charging the input image tokens', async () => {
    const png = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 31) & 0xff));
    const mask = Buffer.from(Array.from({ length: 5_000 }, (_, i) => (i * 17) & 0xff));
    await client.images.edit({
      model: 'gpt-image-1-mini',
      prompt: 'add a boat',
      image: await toFile(png, 'in.png', { type: 'image/png' }),
      mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
    });
    const got = upstream.received[0];
    expect(got?.raw.includes(png)).toBe(true);
    expect(got?.raw.includes(mask)).toBe(true);
    const rec = await lastRecord();
    const imageTokens = 2 * MEDIA.image.imageTokensPerInput;
    expect(rec).toMatchObject({ route: '/v1/images/edits', status: 200, images: 1, usageSource: 'provider' });
    expectUsd(
      rec.costUsd,
      catalog('gpt-image-1-mini', {
        input_tokens: MEDIA.image.textTokens + imageTokens,
        input_image_tokens: imageTokens,
        output_tokens: MEDIA.image.outputTokensPerImage,
      }),
    );
  });

  it('streams a gpt-image-1 generation with partial images and charges the usage of its completed event', async () => {
    const stream = await client.images.generate({
      model: 'gpt-image-1',
      prompt: 'a lighthouse',
      size: '1024x1024',
      stream: true,
      partial_images: 2,
    });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    expect(types).toEqual([
      'image_generation.partial_image',
      'image_generation.partial_image',
      'image_generation.completed',
    ]);
    const rec = await lastRecord();
    expect(rec).toMatchObject({ stream: true, usageSource: 'provider', images: 1 });
    expectUsd(
      rec.costUsd,
      catalog('gpt-image-1', {
        input_tokens: MEDIA.image.textTokens,
        output_tokens: MEDIA.image.outputTokensPerImage,
      }),
    );
  });

  it('charges a dall-e-3 image at its image_usd price for the size and quality asked', async () => {
    await client.images.generate({ model: 'dall-e-3', prompt: 'x', size: '1024x1792', quality: 'hd', n: 1 });
    const rec = await lastRecord();
    expect(rec).toMatchObject({ images: 1, usageSource: 'provider' });
    expectUsd(rec.costUsd, 0.12);
  });

  it('refuses a dall-e-3 size it has no price for, naming the field, and forwards nothing', async () => {
    const err = await client.images
      .generate({ model: 'dall-e-3', prompt: 'x', size: '256x256' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/'size'/);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('speech through tollgate', () => {
  it('streams tts-1 audio bytes unchanged and charges the input characters', async () => {
    const input = 'Read this aloud, please.';
    const res = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.equals(MEDIA.audio)).toBe(true);
    const rec = await lastRecord();
    expect(rec).toMatchObject({ route: '/v1/audio/speech', status: 200, characters: input.length });
    expectUsd(rec.costUsd, (input.length * 15) / 1e6);
  });

  it('charges gpt-4o-mini-tts from the speech.audio.done event of an SSE stream', async () => {
    const res = await client.audio.speech.create({
      model: 'gpt-4o-mini-tts',
      voice: 'alloy',
      input: 'Hello there',
      stream_format: 'sse',
    });
    const text = await res.text();
    expect(text).toContain('speech.audio.delta');
    expect(text).toContain('speech.audio.done');
    const rec = await lastRecord();
    expect(rec).toMatchObject({ stream: true, usageSource: 'provider', characters: 11 });
    expectUsd(
      rec.costUsd,
      catalog('gpt-4o-mini-tts', {
        input_tokens: MEDIA.speech.inputTokens,
        output_tokens: MEDIA.speech.outputTokens,
      }),
    );
  });

  it('refuses speech input over the provider limit, naming the field, and forwards nothing', async () => {
    const err = await client.audio.speech
      .create({ model: 'tts-1', voice: 'alloy', input: 'a'.repeat(4097) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String((err as Error).message)).toMatch(/'input' is 4097 characters/);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('transcriptions through tollgate', () => {
  const wav = wavFile(2.5);

  it('transcribes with whisper-1 in json and charges the seconds the provider reports', async () => {
    const t = await client.audio.transcriptions.create({
      model: 'whisper-1',
      file: await toFile(wav, 'note.wav', { type: 'audio/wav' }),
    });
    expect(t.text).toBe(MEDIA.transcript);
    expect(upstream.received[0]?.raw.includes(wav)).toBe(true);
    const rec = await lastRecord();
    expect(rec).toMatchObject({
      route: '/v1/audio/transcriptions',
      usageSource: 'provider',
      audioSeconds: 3,
    });
    expectUsd(rec.costUsd, catalog('whisper-1', { audio_seconds: 3, input_audio_seconds: 3 }));
  });

  it('charges a whisper-1 text answer, which reports nothing, by the duration read from the file', async () => {
    const mp3 = mp3File(120);
    const t = await client.audio.transcriptions.create({
      model: 'whisper-1',
      file: await toFile(mp3, 'note.mp3', { type: 'audio/mpeg' }),
      response_format: 'text',
    });
    expect(String(t).trim()).toBe(MEDIA.transcript);
    const rec = await lastRecord();
    const seconds = Math.ceil(mp3Seconds(120));
    expect(rec).toMatchObject({ usageSource: 'estimated', audioSeconds: seconds });
    expectUsd(rec.costUsd, catalog('whisper-1', { audio_seconds: seconds, input_audio_seconds: seconds }));
  });

  it('passes srt and vtt answers through and charges them by the duration read from the file', async () => {
    for (const format of ['srt', 'vtt'] as const) {
      gw.records.length = 0;
      const t = await client.audio.transcriptions.create({
        model: 'whisper-1',
        file: await toFile(wav, 'note.wav'),
        response_format: format,
      });
      expect(String(t)).toContain(MEDIA.transcript);
      const rec = await lastRecord();
      expect(rec).toMatchObject({ usageSource: 'estimated', audioSeconds: 3 });
      expectUsd(rec.costUsd, catalog('whisper-1', { audio_seconds: 3, input_audio_seconds: 3 }));
    }
  });

  it('answers verbose_json with its segments and charges the reported seconds', async () => {
    const t = await client.audio.transcriptions.create({
      model: 'whisper-1',
      file: await toFile(wav, 'note.wav'),
      response_format: 'verbose_json',
    });
    expect(t.segments?.length).toBe(1);
    const rec = await lastRecord();
    expect(rec.audioSeconds).toBe(3);
  });

  it('streams a gpt-4o-mini-transcribe transcription and charges its token usage', async () => {
    const stream = await client.audio.transcriptions.create({
      model: 'gpt-4o-mini-transcribe',
      file: await toFile(wav, 'note.wav'),
      stream: true,
    });
    let text = '';
    for await (const ev of stream) if (ev.type === 'transcript.text.done') text = ev.text;
    expect(text).toBe(MEDIA.transcript);
    const rec = await lastRecord();
    expect(rec).toMatchObject({ stream: true, usageSource: 'provider' });
    const { textTokens, audioTokens, outputTokens } = MEDIA.transcribe;
    expectUsd(
      rec.costUsd,
      catalog('gpt-4o-mini-transcribe', {
        input_tokens: textTokens + audioTokens,
        input_audio_tokens: audioTokens,
        output_tokens: outputTokens,
      }),
    );
  });

  it('translates with whisper-1', async () => {
    const t = await client.audio.translations.create({
      model: 'whisper-1',
      file: await toFile(wav, 'note.wav'),
    });
    expect(t.text).toBe(MEDIA.transcript);
    expect((await lastRecord()).route).toBe('/v1/audio/translations');
  });

  it('refuses a file that is not audio on a model priced by duration, naming the file, and forwards nothing', async () => {
    const err = await client.audio.transcriptions
      .create({ model: 'whisper-1', file: await toFile(Buffer.from('%PDF-1.4 not audio'), 'x.wav') })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String((err as Error).message)).toMatch(/duration of the audio in 'file'/);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('moderations through tollgate', () => {
  it('forwards a moderation for free and records it', async () => {
    const m = await client.moderations.create({ model: 'omni-moderation-latest', input: 'hello' });
    expect(m.results[0]?.flagged).toBe(false);
    const rec = await lastRecord();
    expect(rec).toMatchObject({ route: '/v1/moderations', status: 200, costUsd: 0, usageSource: 'none' });
  });
});

describe('/metrics for images and audio', () => {
  it('counts images, audio seconds and characters by key and model', async () => {
    await client.images.generate({ model: 'gpt-image-1', prompt: 'a lighthouse', size: '1024x1024' });
    await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'twelve chars' });
    await client.audio.transcriptions.create({
      model: 'whisper-1',
      file: await toFile(wavFile(1.5), 'a.wav'),
    });
    await gw.waitForRecords(3);
    const text = await gw.deps.metrics.registry.metrics();
    const value = (model: string, unit: string) =>
      Number(
        new RegExp(
          `tollgate_media_units_total\\{key="studio",model="${model}",unit="${unit}"\\} ([0-9.]+)`,
        ).exec(text)?.[1],
      );
    expect(value('gpt-image-1', 'images')).toBeGreaterThanOrEqual(1);
    expect(value('tts-1', 'characters')).toBeGreaterThanOrEqual(12);
    expect(value('whisper-1', 'audio_seconds')).toBeGreaterThanOrEqual(2);
  });
});
