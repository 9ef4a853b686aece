import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeInsights } from '../../src/insights/compute.js';
import { wavFile } from '../helpers/audio-files.js';
import { mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, manualClock, startGateway } from '../helpers/gateway-harness.js';

/**
 * Voice input (Open WebUI sends each recording to /v1/audio/transcriptions with the same form
 * fields): the request fingerprint covers the uploaded file, so twelve recordings are twelve
 * requests, and the same recording sent twelve times is a loop.
 */

const START = Date.UTC(2026, 10, 24, 10, 0, 0);
let upstream: FakeUpstream;
let gw: Harness;
let client: OpenAI;
const clock = manualClock(START);

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({
    clock,
    yaml: mediaYaml(upstream.baseUrl, '  voice:\n    hash: {{hash:voice}}\n    limits: { daily_usd: 50 }\n'),
  });
  client = new OpenAI({ apiKey: gw.keys.voice, baseURL: gw.baseURL, maxRetries: 0 });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

/** Twelve transcriptions of 30 s ($0.036 together, past the $0.01 a finding needs), 20 s apart. */
async function transcribe(start: number, file: (i: number) => Buffer): Promise<void> {
  for (let i = 0; i < 12; i++) {
    clock.set(start + i * 20_000);
    await client.audio.transcriptions.create({
      model: 'whisper-1',
      language: 'en',
      file: await toFile(file(i), 'recording.wav', { type: 'audio/wav' }),
    });
  }
}

const loopsIn = async (since: number) =>
  (
    await computeInsights({
      store: gw.store,
      config: gw.deps.config.current().config,
      since,
      until: since + 3_600_000,
    })
  ).filter((f) => f.key === 'voice' && (f.kind === 'loop' || f.kind === 'retries'));

describe('fingerprints of uploads', () => {
  it('finds no loop in twelve different recordings sent with the same fields', async () => {
    await transcribe(START, (i) => {
      const wav = wavFile(30, 8_000);
      wav.writeInt16LE(1000 + i, 44); // one sample differs: another recording of the same length
      return wav;
    });
    await gw.waitForRecords(12);
    expect(await loopsIn(START)).toEqual([]);
  });

  it('finds a loop in one recording sent twelve times', async () => {
    const later = START + 2 * 3_600_000;
    await transcribe(later, () => wavFile(30, 8_000));
    await gw.waitForRecords(24);
    const loops = await loopsIn(later);
    expect(loops.map((f) => [f.kind, f.count])).toEqual([['loop', 12]]);
  });
});
