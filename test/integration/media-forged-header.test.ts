import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { wavFile } from '../helpers/audio-files.js';
import { mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * A transcription is bounded by the duration its file's header states, which the client writes:
 * a header claiming far less than the file's bytes can hold is not believed, and the request is
 * bounded by the most audio those bytes can be (6 kbit/s), so a hard limit holds.
 */

const SMALL = `  thrifty:
    hash: {{hash:thrifty}}
    limits: { daily_usd: 0.05 }
`;

/** 60 s of 8 kHz 16-bit WAV (960 kB) whose data chunk claims one second. */
function forgedWav(): Buffer {
  const wav = wavFile(60, 8000);
  wav.writeUInt32LE(16_000, 40);
  return wav;
}

let upstream: FakeUpstream;
let gw: Harness;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: mediaYaml(upstream.baseUrl, SMALL) });
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});
beforeEach(() => {
  upstream.reset();
});

describe('a transcription whose header understates its audio', () => {
  it('is bounded by what its bytes can hold, and refused when that does not fit the budget', async () => {
    const c = new OpenAI({ apiKey: gw.keys.thrifty, baseURL: gw.baseURL, maxRetries: 0 });
    const err = await c.audio.transcriptions
      .create({ model: 'whisper-1', file: await toFile(forgedWav(), 'forged.wav') })
      .catch((e: unknown) => e);
    // 960 kB at 6 kbit/s: up to 1281 s of audio, and a tenth over it for a provider's rounding:
    // 1410 s, $0.141 at whisper-1's $0.006 a minute.
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(String((err as Error).message)).toMatch(/1410 seconds of audio/);
    expect(upstream.received).toHaveLength(0);
  });

  it('still believes an honest header of the same length of audio', async () => {
    const c = new OpenAI({ apiKey: gw.keys.thrifty, baseURL: gw.baseURL, maxRetries: 0 });
    const t = await c.audio.transcriptions.create({
      model: 'whisper-1',
      file: await toFile(wavFile(60, 8000), 'a.wav'),
    });
    expect(t.text).toBeTruthy();
    expect(upstream.received).toHaveLength(1);
  });
});
