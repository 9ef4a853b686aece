import { calcPrice } from '@pydantic/genai-prices';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/store/types.js';
import { wavFile } from '../helpers/audio-files.js';
import { MEDIA, mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, json, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * A whisper-1 verbose_json answer whose `duration` no audio can have (negative, or longer than
 * the uploaded file, beyond rounding) is distrusted like an implausible `usage.seconds`: the transcription is charged by
 * the duration read from the file. A negative one used to make the charge throw after the answer
 * had gone out (charged nothing), and a huge one charged a fortune.
 */
let upstream: FakeUpstream;
let gw: Harness;
let client: OpenAI;
const wav = wavFile(2.5);
const fileCost = calcPrice({ audio_seconds: 3, input_audio_seconds: 3 }, 'whisper-1', {
  providerId: 'openai',
})?.total_price;

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

describe('a whisper-1 verbose_json duration no audio can have', () => {
  it.each([-3, 60, 1e6, 1e12])(
    'is distrusted when it is %s: the file’s duration is charged',
    async (duration) => {
      upstream.next(
        json(200, {
          task: 'transcribe',
          language: 'english',
          duration,
          text: MEDIA.transcript,
          segments: [],
        }),
      );
      const t = await client.audio.transcriptions.create({
        model: 'whisper-1',
        file: await toFile(wav, 'note.wav', { type: 'audio/wav' }),
        response_format: 'verbose_json',
      });
      expect(t.text).toBe(MEDIA.transcript);
      const [rec] = (await gw.waitForRecords(1)) as [UsageRecord];
      expect(rec).toMatchObject({ status: 200, errorCode: null, usageSource: 'estimated', audioSeconds: 3 });
      expect(fileCost).toBeGreaterThan(0);
      expect(Math.abs(rec.costUsd - (fileCost ?? Number.NaN))).toBeLessThan(1e-12);
      const spend = await gw.store.getSpend('studio', [`d:${rec.day}`]);
      expect(spend[`d:${rec.day}`]?.reservedUsd).toBe(0);
    },
  );
  it('is trusted within rounding of the file’s duration: the provider’s seconds are charged', async () => {
    upstream.next(
      json(200, {
        task: 'transcribe',
        language: 'english',
        duration: 3.4,
        text: MEDIA.transcript,
        segments: [],
      }),
    );
    await client.audio.transcriptions.create({
      model: 'whisper-1',
      file: await toFile(wav, 'note.wav', { type: 'audio/wav' }),
      response_format: 'verbose_json',
    });
    const [rec] = (await gw.waitForRecords(1)) as [UsageRecord];
    const said = calcPrice({ audio_seconds: 3.4, input_audio_seconds: 3.4 }, 'whisper-1', {
      providerId: 'openai',
    })?.total_price;
    expect(rec).toMatchObject({ status: 200, usageSource: 'provider', audioSeconds: 3.4 });
    expect(Math.abs(rec.costUsd - (said ?? Number.NaN))).toBeLessThan(1e-12);
  });
});
