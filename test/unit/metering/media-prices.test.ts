import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../../src/config/load/model-prices.js';
import type { ModelConfig, UpstreamConfig } from '../../../src/config/types.js';
import { meterMedia } from '../../../src/metering/media-meter.js';
import {
  boundImages,
  boundSpeech,
  boundTranscription,
  IMAGE_TEXT_OUTPUT_TOKENS,
  imageOutputTokens,
  imageUnitPrice,
  textTokensMax,
} from '../../../src/metering/media-prices.js';
import { createMediaReader, type MediaUsageKind } from '../../../src/metering/media-usage.js';
import { lookupCatalog } from '../../../src/pricing/catalog.js';

/**
 * Image and audio prices against the catalog's own calcPrice (to 1e-9 USD) and the bounds a
 * reservation takes: n x the dearest image, the audio's duration, the speech's characters.
 */

const openai: UpstreamConfig = {
  name: 'openai',
  baseUrl: 'https://api.openai.com/v1',
  apiKeyEnv: 'X',
  timeoutMs: 1000,
  format: 'openai',
  provider: 'openai',
};
const NOW = Date.parse('2026-12-06T12:00:00Z');

const catalogModel = (name: string): ModelConfig =>
  buildModel(name, { upstream: 'openai' }, openai, lookupCatalog(name, 'openai'), NOW);
const unitModel = (name: string, raw: Record<string, unknown>): ModelConfig =>
  buildModel(name, { upstream: 'openai', ...raw }, openai, undefined, NOW);

const catalog = (model: string, usage: Record<string, number>) =>
  calcPrice(usage, model, { providerId: 'openai' })?.total_price ?? Number.NaN;

function settle(
  kind: MediaUsageKind,
  body: unknown,
  model: ModelConfig,
  plan: Parameters<typeof meterMedia>[4],
) {
  const reader = createMediaReader(kind);
  reader.readJson(body);
  const bound = { usd: 1, inputTokens: 100_000, outputTokens: 100_000, why: '' };
  return meterMedia(
    { completed: true, upstreamStatus: 200, reachedUpstream: true },
    reader,
    model,
    NOW,
    plan,
    bound,
  );
}

const expectUsd = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThan(1e-9);

describe('image, speech and transcription costs agree with the catalog', () => {
  it('prices a gpt-image-1 edit by text, image-input (cached too) and image-output tokens', () => {
    const usage = {
      input_tokens: 1_250,
      input_tokens_details: { text_tokens: 50, image_tokens: 1_200, cached_tokens: 300 },
      output_tokens: 4_160,
    };
    const m = settle(
      'openai-images',
      { created: 1, data: [{ b64_json: 'x' }], usage },
      catalogModel('gpt-image-1'),
      {
        kind: 'images',
        n: 1,
      },
    );
    expect(m.usageSource).toBe('provider');
    expect(m.units).toEqual({ images: 1 });
    // The cached part is not split by modality: text first (the dearer reading), the rest images.
    expectUsd(
      m.costUsd,
      catalog('gpt-image-1', {
        input_tokens: 1_250,
        input_image_tokens: 1_200,
        cache_read_tokens: 300,
        cache_image_read_tokens: 250,
        output_tokens: 4_160,
      }),
    );
  });

  it('prices gpt-image-1-mini output as the catalog does', () => {
    const usage = {
      input_tokens: 20,
      input_tokens_details: { text_tokens: 20, image_tokens: 0 },
      output_tokens: 1_056,
    };
    const m = settle('openai-images', { data: [{}], usage }, catalogModel('gpt-image-1-mini'), {
      kind: 'images',
      n: 1,
    });
    expectUsd(m.costUsd, catalog('gpt-image-1-mini', { input_tokens: 20, output_tokens: 1_056 }));
  });

  it("prices whisper-1 by the seconds its json answer reports, at the catalog's hourly price", () => {
    const m = settle(
      'openai-transcription',
      { text: 'hi', usage: { type: 'duration', seconds: 61 } },
      catalogModel('whisper-1'),
      {
        kind: 'transcription',
        fileSeconds: 60.2,
      },
    );
    expect(m.usageSource).toBe('provider');
    expect(m.units).toEqual({ audioSeconds: 61 });
    expectUsd(m.costUsd, catalog('whisper-1', { audio_seconds: 61, input_audio_seconds: 61 }));
  });

  it('prices whisper-1 text answers, which report nothing, by the duration read from the file', () => {
    const m = settle('openai-transcription', 'hello', catalogModel('whisper-1'), {
      kind: 'transcription',
      fileSeconds: 9.2,
    });
    expect(m.usageSource).toBe('estimated');
    expectUsd(m.costUsd, catalog('whisper-1', { audio_seconds: 10, input_audio_seconds: 10 }));
  });

  it('prices gpt-4o-mini-transcribe by its text and audio input tokens and its output', () => {
    const usage = {
      type: 'tokens',
      input_tokens: 140,
      input_token_details: { text_tokens: 20, audio_tokens: 120 },
      output_tokens: 30,
      total_tokens: 170,
    };
    const m = settle('openai-transcription', { text: 'x', usage }, catalogModel('gpt-4o-mini-transcribe'), {
      kind: 'transcription',
      fileSeconds: 12,
    });
    expectUsd(
      m.costUsd,
      catalog('gpt-4o-mini-transcribe', { input_tokens: 140, input_audio_tokens: 120, output_tokens: 30 }),
    );
  });

  it('charges transcription input with no breakdown as audio, the dearer, never below the bill', () => {
    // A relay that drops input_token_details: 140 input tokens, of which OpenAI billed 120 as audio.
    const model = catalogModel('gpt-4o-transcribe');
    const plan = { kind: 'transcription', fileSeconds: 12 } as const;
    const bill = catalog('gpt-4o-transcribe', {
      input_tokens: 140,
      input_audio_tokens: 120,
      output_tokens: 30,
    });
    const bare = settle(
      'openai-transcription',
      { text: 'x', usage: { type: 'tokens', input_tokens: 140, output_tokens: 30 } },
      model,
      plan,
    );
    expect(bare.usageSource).toBe('provider');
    expect(bare.costUsd).toBeGreaterThanOrEqual(bill);
    expectUsd(
      bare.costUsd,
      catalog('gpt-4o-transcribe', { input_tokens: 140, input_audio_tokens: 140, output_tokens: 30 }),
    );
    // Only the text part said: the rest is audio, exactly the bill.
    const textOnly = settle(
      'openai-transcription',
      {
        text: 'x',
        usage: {
          type: 'tokens',
          input_tokens: 140,
          input_token_details: { text_tokens: 20 },
          output_tokens: 30,
        },
      },
      model,
      plan,
    );
    expectUsd(textOnly.costUsd, bill);
  });

  it('prices gpt-4o-mini-tts from the usage of its speech.audio.done event', () => {
    const reader = createMediaReader('openai-speech');
    reader.readEvent({ type: 'speech.audio.delta', audio: 'AAAA' });
    reader.readEvent({
      type: 'speech.audio.done',
      usage: { input_tokens: 15, output_tokens: 980, total_tokens: 995 },
    });
    const model = catalogModel('gpt-4o-mini-tts');
    // 980 audio tokens are about 47 s of speech: a text of 60 characters may last that long.
    const input = "Hello there, and welcome to the lighthouse keeper's evening.";
    const bound = boundSpeech(model, NOW, { input, instructions: '', speed: 1 });
    const m = meterMedia(
      { completed: true, upstreamStatus: 200, reachedUpstream: true },
      reader,
      model,
      NOW,
      { kind: 'speech', characters: input.length, speed: 1 },
      bound,
    );
    expect(m.usageSource).toBe('provider');
    expectUsd(m.costUsd, catalog('gpt-4o-mini-tts', { input_tokens: 15, output_tokens: 980 }));
    expect(m.costUsd).toBeLessThanOrEqual(bound.usd);
  });

  it("estimates gpt-4o-mini-tts's binary answer, which reports no usage, from the input's length, within the bound", () => {
    const model = catalogModel('gpt-4o-mini-tts');
    const input = 'x'.repeat(150);
    const bound = boundSpeech(model, NOW, { input, instructions: '', speed: 1 });
    const m = meterMedia(
      { completed: true, upstreamStatus: 200, reachedUpstream: true },
      createMediaReader('openai-speech'),
      model,
      NOW,
      { kind: 'speech', characters: 150, speed: 1 },
      bound,
    );
    // 150 characters at 15 a second: 10 s of speech, about 21 audio tokens a second.
    expect(m).toMatchObject({ usageSource: 'estimated', units: { characters: 150 } });
    expect(m.usage.outputTokens).toBe(210);
    expectUsd(m.costUsd, catalog('gpt-4o-mini-tts', { input_tokens: 39, output_tokens: 210 }));
    expect(m.costUsd).toBeLessThanOrEqual(bound.usd);
  });

  it("estimates gpt-4o-mini-tts's binary answer by the bound's rule for speed", () => {
    // OpenAI's speech page does not say whether `speed` changes the audio billed: the bound takes
    // a speed below 1 as lengthening it, and the estimate of an answer that reports no usage must
    // too, or speed 0.25 is held for four times the audio and charged for a quarter of it.
    const model = catalogModel('gpt-4o-mini-tts');
    const input = 'x'.repeat(150);
    const at = (speed: number) => {
      const bound = boundSpeech(model, NOW, { input, instructions: '', speed });
      const m = meterMedia(
        { completed: true, upstreamStatus: 200, reachedUpstream: true },
        createMediaReader('openai-speech'),
        model,
        NOW,
        { kind: 'speech', characters: 150, speed },
        bound,
      );
      expect(m.costUsd).toBeLessThanOrEqual(bound.usd);
      return m.usage.outputTokens;
    };
    // 150 characters at 15 a second: 10 s at speed 1, 40 s at 0.25, about 21 audio tokens a second.
    expect(at(1)).toBe(210);
    expect(at(0.25)).toBe(840);
    expect(at(0.5)).toBe(420);
    // Above 1 it is not shortened, as the bound is not; outside 0.25 to 4 is the slowest, as there.
    expect(at(4)).toBe(210);
    expect(at(Number.NaN)).toBe(840);
  });

  it('bounds a token-priced voice by its characters and speed, not by max_output_tokens', () => {
    const model = { ...catalogModel('gpt-4o-mini-tts'), maxOutputTokens: 10 };
    const at = (speed: number) =>
      boundSpeech(model, NOW, { input: 'x'.repeat(200), instructions: '', speed });
    expect(at(1).outputTokens).toBe(200 * 25);
    expect(at(0.25).outputTokens).toBe(800 * 25);
    // A faster speed does not shorten it: the audio is sped up after it is generated.
    expect(at(4).outputTokens).toBe(200 * 25);
    // Outside OpenAI's 0.25 to 4, or not a number: bounded as the slowest.
    expect(at(0.1).outputTokens).toBe(800 * 25);
    expect(at(Number.NaN).outputTokens).toBe(800 * 25);
  });

  it('keeps gpt-4o-mini-tts at speed 4 within its bound when the voice speaks slowly', () => {
    // `speed` is applied to the audio after it is generated (as the Realtime API documents its
    // own), so the audio tokens billed are those of the voice's pace: 200 characters read at
    // two a second ("read each digit slowly") are 100 s, about 2,100 tokens, whatever the speed.
    // Shortened by the speed, the bound held 1,250.
    const model = catalogModel('gpt-4o-mini-tts');
    const input = '4'.repeat(200);
    const bound = boundSpeech(model, NOW, { input, instructions: 'Read each digit slowly.', speed: 4 });
    const billed = settle('openai-speech', { usage: { input_tokens: 60, output_tokens: 2_100 } }, model, {
      kind: 'speech',
      characters: 200,
      speed: 4,
    });
    expect(billed.costUsd).toBeGreaterThan(0);
    expect(billed.costUsd).toBeLessThanOrEqual(bound.usd);
    expect(bound.outputTokens).toBeGreaterThanOrEqual(2_100);
  });

  it('prices tts-1 per character from input_per_mchar, counting code points', () => {
    const model = unitModel('tts-1', { input_per_mchar: 15 });
    const input = 'héllo 👋';
    const bound = boundSpeech(model, NOW, { input, instructions: '', speed: 1 });
    expectUsd(bound.usd, (7 * 15) / 1e6);
  });
});

describe('the most an image or audio request can cost', () => {
  it('reserves n x the dearest output the size and quality allow, auto counting as the dearest', () => {
    expect(imageOutputTokens('auto', 'auto')).toBe(6_240);
    expect(imageOutputTokens('1024x1024', 'low')).toBe(272);
    expect(imageOutputTokens(undefined, 'medium')).toBe(1_584);
    const b = boundImages(catalogModel('gpt-image-1'), NOW, {
      n: 3,
      prompt: 'a cat',
      inputImages: 0,
      partialImages: 0,
    });
    expect(b.outputTokens).toBe(3 * 6_240);
    expectUsd(b.usd, (3 * 6_240 * 40 + b.inputTokens * 5) / 1e6);
  });

  it("reserves gpt-image-2 by its own image tokens: 1024x1024 high is 7024 ($0.211), not gpt-image-1's 4160", () => {
    // OpenAI's image-generation calculator and model page: gpt-image-2 at 1024x1024 is 196
    // (low, $0.006), 1756 (medium, $0.053) and 7024 (high, $0.211) output tokens at $30/M; its
    // other two sizes are 158, 1372 and 5488. The provider bills what it reports, so a bound
    // on gpt-image-1's counts (4160 at high) held $0.125 for a $0.211 image.
    const model = catalogModel('gpt-image-2');
    const ask = (size: string | undefined, quality: string | undefined) =>
      boundImages(model, NOW, {
        n: 2,
        ...(size === undefined ? {} : { size }),
        ...(quality === undefined ? {} : { quality }),
        prompt: 'a cat',
        inputImages: 0,
        partialImages: 0,
      });
    // Beside each image, the text it may write (IMAGE_TEXT_OUTPUT_TOKENS and the prompt's bound).
    const text = 2 * (IMAGE_TEXT_OUTPUT_TOKENS + textTokensMax('a cat'));
    expect(ask('1024x1024', 'high').outputTokens).toBe(2 * 7_024 + text);
    expect(ask('1024x1024', 'medium').outputTokens).toBe(2 * 1_756 + text);
    expect(ask('1536x1024', 'high').outputTokens).toBe(2 * 5_488 + text);
    expect(ask(undefined, undefined).outputTokens).toBe(2 * 7_024 + text);
    const bound = ask('1024x1024', 'high');
    const billed = settle(
      'openai-images',
      { data: [{}, {}], usage: { input_tokens: 11, output_tokens: 2 * 7_024 } },
      model,
      { kind: 'images', n: 2, size: '1024x1024', quality: 'high' },
    );
    expectUsd(billed.costUsd, catalog('gpt-image-2', { input_tokens: 11, output_tokens: 2 * 7_024 }));
    expect(billed.costUsd).toBeLessThanOrEqual(bound.usd);
    // gpt-image-1 keeps its own counts.
    expect(imageOutputTokens('1024x1024', 'high')).toBe(4_160);
  });

  it('reserves the text gpt-image-1.5 and gpt-image-2 write beside each image, billed as text output', () => {
    // gpt-image-1.5 reports text output beside its image tokens (an OpenAI community report:
    // output_tokens 481 = 272 image + 209 text for a low 1024x1024 image of a short prompt), billed
    // at $10 per million. Reserved as images only, the hold was below the bill.
    const usage = {
      input_tokens: 48,
      input_tokens_details: { image_tokens: 0, text_tokens: 48 },
      output_tokens: 481,
      output_tokens_details: { image_tokens: 272, text_tokens: 209 },
      total_tokens: 529,
    };
    for (const [name, imageTokens] of [
      ['gpt-image-1.5', 272],
      ['gpt-image-2', 196],
    ] as const) {
      const model = catalogModel(name);
      const ask = { n: 2, size: '1024x1024', quality: 'low', prompt: 'a lighthouse at dusk' };
      const bound = boundImages(model, NOW, { ...ask, inputImages: 0, partialImages: 0 });
      const two = {
        ...usage,
        output_tokens: 2 * (imageTokens + 209),
        output_tokens_details: { image_tokens: 2 * imageTokens, text_tokens: 2 * 209 },
      };
      const billed = settle('openai-images', { data: [{}, {}], usage: two }, model, {
        kind: 'images',
        ...ask,
      });
      expect(billed.usageSource).toBe('provider');
      expect(billed.costUsd).toBeGreaterThan(0);
      expect(billed.costUsd).toBeLessThanOrEqual(bound.usd);
    }
    // gpt-image-1.5's text output at its text price, its image output at the image price.
    const one = settle('openai-images', { data: [{}], usage }, catalogModel('gpt-image-1.5'), {
      kind: 'images',
      n: 1,
    });
    expectUsd(one.costUsd, (48 * 5 + 272 * 32 + 209 * 10) / 1e6);
    // gpt-image-1 writes no text: its bound is its images alone.
    const b1 = boundImages(catalogModel('gpt-image-1'), NOW, {
      n: 1,
      size: '1024x1024',
      quality: 'low',
      prompt: 'x',
      inputImages: 0,
      partialImages: 0,
    });
    expect(b1.outputTokens).toBe(272);
  });

  it("charges a stream's completed events added up, unless they add up past the bound", () => {
    // OpenAI documents each completed event's usage as its image's: ten events add up to the bill.
    // An upstream that repeats the whole request's usage on each event (a relay turning a JSON
    // answer into a stream) added up to ten times the bill, past the hold: charged the bound.
    const model = catalogModel('gpt-image-1');
    const ask = { n: 10, size: '1024x1024', quality: 'low', prompt: 'a lighthouse at dusk' };
    const bound = boundImages(model, NOW, { ...ask, inputImages: 1, partialImages: 0 });
    const perImage = { input_tokens: 1_000, text_tokens: 40, image_tokens: 960, output_tokens: 272 };
    const stream = (times: number) => {
      const reader = createMediaReader('openai-images');
      for (let i = 0; i < 10; i++)
        reader.readEvent({
          type: 'image_edit.completed',
          usage: {
            input_tokens: times * perImage.input_tokens,
            input_tokens_details: {
              text_tokens: times * perImage.text_tokens,
              image_tokens: times * perImage.image_tokens,
              cached_tokens: 0,
            },
            output_tokens: times * perImage.output_tokens,
          },
        });
      return meterMedia(
        { completed: true, upstreamStatus: 200, reachedUpstream: true },
        reader,
        model,
        NOW,
        { kind: 'images', ...ask },
        bound,
      );
    };
    const bill = catalog('gpt-image-1', {
      input_tokens: 10_000,
      input_text_tokens: 400,
      input_image_tokens: 9_600,
      output_tokens: 2_720,
    });
    // Each event its image's usage: the sum is the bill, within the bound.
    const own = stream(1);
    expect(own.usageSource).toBe('provider');
    expectUsd(own.costUsd, bill);
    expect(own.costUsd).toBeLessThanOrEqual(bound.usd);
    // Each event the whole request's usage: added up, 10 x the bill, past the bound.
    const repeated = stream(10);
    expect(repeated.costUsd).toBeLessThanOrEqual(bound.usd);
    expect(repeated.costUsd).toBeGreaterThanOrEqual(bill);
    expect(repeated.distrusted).toMatch(/10 completed events/);
  });

  it('reserves the prompt and the input images once per image: n images are n calls', () => {
    // n > 1 bills as individual calls, each reading the prompt and the input images again (an
    // OpenAI community write-up measuring gpt-image-2's edits). A 10,000-character Japanese
    // prompt (30,000 UTF-8 bytes, about 12,000 tokens) for ten low images on gpt-image-1:
    // reserved once, the hold was $0.26 and the bill $0.71.
    const prompt = '灯台'.repeat(5_000);
    const model = catalogModel('gpt-image-1');
    const ask = { n: 10, size: '1024x1024', quality: 'low', prompt };
    const bound = boundImages(model, NOW, { ...ask, inputImages: 0, partialImages: 0 });
    const perCall = 12_006;
    const billed = settle(
      'openai-images',
      {
        data: Array.from({ length: 10 }, () => ({})),
        usage: {
          input_tokens: 10 * perCall,
          input_tokens_details: { text_tokens: 10 * perCall, image_tokens: 0 },
          output_tokens: 10 * 272,
        },
      },
      model,
      { kind: 'images', ...ask },
    );
    expectUsd(billed.costUsd, catalog('gpt-image-1', { input_tokens: 10 * perCall, output_tokens: 2_720 }));
    expect(billed.costUsd).toBeLessThanOrEqual(bound.usd);
    // A stream reports each image's call apart: its input adds up too.
    const reader = createMediaReader('openai-images');
    for (let i = 0; i < 2; i++)
      reader.readEvent({
        type: 'image_edit.completed',
        usage: {
          input_tokens: 1_000,
          input_tokens_details: { text_tokens: 40, image_tokens: 960, cached_tokens: 0 },
          output_tokens: 272,
        },
      });
    expect(reader.usage()).toMatchObject({ inputTokens: 2_000, inputImageTokens: 1_920, outputTokens: 544 });
  });

  it('reserves each input image of an edit and the partial images of a stream', () => {
    const b = boundImages(catalogModel('gpt-image-1'), NOW, {
      n: 1,
      size: '1024x1024',
      quality: 'high',
      prompt: 'x',
      inputImages: 2,
      partialImages: 2,
    });
    expect(b.outputTokens).toBe(4_160 + 200);
    expect(b.inputTokens).toBeGreaterThan(2 * 1_000);
  });

  it('prices image_usd maps by size and quality, dearest when either is auto or left out', () => {
    const map = { '1024x1024': 0.04, '1024x1792': 0.08, 'hd 1024x1024': 0.08, 'hd 1024x1792': 0.12 };
    expect(imageUnitPrice(map, '1024x1024', 'standard')).toBe(0.04);
    expect(imageUnitPrice(map, '1024x1024', 'hd')).toBe(0.08);
    expect(imageUnitPrice(map, '1024x1792', undefined)).toBe(0.12);
    expect(imageUnitPrice(map, 'auto', 'auto')).toBe(0.12);
    expect(imageUnitPrice(map, '256x256', undefined)).toBeUndefined();
    expect(imageUnitPrice(0.02, '256x256', 'hd')).toBe(0.02);
  });

  it('refuses an image size the model has no price for, naming the field', () => {
    const model = unitModel('dall-e-3', { image_usd: { '1024x1024': 0.04 } });
    expect(() =>
      boundImages(model, NOW, { n: 1, size: '512x512', prompt: 'x', inputImages: 0, partialImages: 0 }),
    ).toThrow(/'size'/);
  });

  it('reserves whisper-1 by the duration read, a second or a tenth over, and refuses nothing it can price', () => {
    const b = boundTranscription(catalogModel('whisper-1'), NOW, { seconds: 59.5, prompt: '' });
    expectUsd(b.usd, (66 * 0.36) / 3600);
    const short = boundTranscription(catalogModel('whisper-1'), NOW, { seconds: 3.4, prompt: '' });
    expectUsd(short.usd, (5 * 0.36) / 3600);
  });

  it("reserves whisper-1 at least the most seconds the provider's report is believed for", () => {
    // A reported duration up to a tenth over the file's (rounding, a container's header) is
    // charged as the provider's own: a bound of the file's duration and one second held $0.0601
    // for a 600 s file whose credible report of 655 s charges $0.0655.
    const model = catalogModel('whisper-1');
    for (const [fileSeconds, said] of [
      [600, 655],
      [59.5, 65],
      [3.4, 4.4],
    ] as const) {
      const bound = boundTranscription(model, NOW, { seconds: fileSeconds, prompt: '' });
      const m = settle(
        'openai-transcription',
        { text: 'hi', usage: { type: 'duration', seconds: said } },
        model,
        { kind: 'transcription', fileSeconds },
      );
      expect(m.usageSource).toBe('provider');
      expect(m.units).toEqual({ audioSeconds: said });
      expect(m.costUsd).toBeLessThanOrEqual(bound.usd);
    }
  });

  it('bounds a token-priced transcription of unknown duration by the context window', () => {
    const model = catalogModel('gpt-4o-transcribe');
    const b = boundTranscription(model, NOW, { seconds: undefined, prompt: '' });
    expect(b.inputTokens).toBe(16_000);
    expect(b.outputTokens).toBeLessThanOrEqual(16_000);
  });

  it('charges a stream of n images cut after its first image the reservation, not the one image seen', () => {
    // The client left after the first of four streamed images: the other three are still made
    // and billed, as any generation cut short is; the usage of the one seen is not the bill.
    const model = catalogModel('gpt-image-1');
    const ask = { n: 4, size: '1024x1024', quality: 'high', prompt: 'a lighthouse' };
    const bound = boundImages(model, NOW, { ...ask, inputImages: 0, partialImages: 0 });
    const reader = createMediaReader('openai-images');
    reader.readEvent({
      type: 'image_generation.completed',
      usage: {
        input_tokens: 9,
        input_tokens_details: { text_tokens: 9, image_tokens: 0 },
        output_tokens: 4_160,
      },
    });
    const end = (completed: boolean) => ({ completed, upstreamStatus: 200, reachedUpstream: true });
    const cut = meterMedia(end(false), reader, model, NOW, { kind: 'images', ...ask }, bound);
    expect(cut).toMatchObject({ usageSource: 'reserved', costUsd: bound.usd, units: { images: 4 } });
    expect(cut.costUsd).toBeGreaterThanOrEqual(
      catalog('gpt-image-1', { input_tokens: 36, output_tokens: 4 * 4_160 }),
    );
    // All four seen, or the stream ended: the provider's usage.
    const done = meterMedia(end(true), reader, model, NOW, { kind: 'images', ...ask }, bound);
    expect(done.usageSource).toBe('provider');
  });

  it('keeps every settled cost within its bound for the canned answers', () => {
    const model = catalogModel('gpt-image-1');
    const bound = boundImages(model, NOW, {
      n: 1,
      size: '1024x1024',
      quality: 'high',
      prompt: 'a cat',
      inputImages: 0,
      partialImages: 0,
    });
    const m = settle(
      'openai-images',
      { data: [{}], usage: { input_tokens: 5, output_tokens: 4_160 } },
      model,
      { kind: 'images', n: 1 },
    );
    expect(m.costUsd).toBeLessThanOrEqual(bound.usd);
  });
});
