import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { wavFile } from '../helpers/audio-files.js';
import { cannedMedia, mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, sleep, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';

/**
 * Uploads are read whole before the rate slot, so the bytes held at once are capped per key and
 * in all: past either, an upload is refused 429 rate_limit_exceeded before it is read, and the
 * bytes are given back when the request ends. Small limits here; 64 MB a key and 256 MB in all
 * by default.
 */

const OTHER = `  other:
    hash: {{hash:other}}
`;
/** 20 s of 16 kHz WAV: 640 kB. Limits: one upload per key, and under two in all. */
const wav = wavFile(20);
const LIMITS = { perKeyBytes: 1024 * 1024, totalBytes: 1200 * 1024 };

let upstream: FakeUpstream;
let gw: Harness;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startGateway({ yaml: mediaYaml(upstream.baseUrl, OTHER), uploadLimits: LIMITS });
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});
beforeEach(() => {
  gw.records.length = 0;
  upstream.reset();
});

async function transcribe(key: string | undefined): Promise<number | InstanceType<typeof OpenAI.APIError>> {
  const c = new OpenAI({ apiKey: key, baseURL: gw.baseURL, maxRetries: 0 });
  try {
    await c.audio.transcriptions.create({ model: 'whisper-1', file: await toFile(wav, 'note.wav') });
    return 200;
  } catch (e) {
    return e as InstanceType<typeof OpenAI.APIError>;
  }
}

/** The upstream holds the first transcription until `release` is called. */
function holdFirst(): () => void {
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  upstream.next(async (req, res) => {
    await held;
    await cannedMedia(req, res);
  });
  return release;
}

async function untilForwarded(n: number) {
  for (let i = 0; i < 200 && upstream.received.length < n; i++) await sleep(10);
}

describe('upload bytes held at once', () => {
  it("refuses a key's second upload past its share while the first is in flight, and admits it after", async () => {
    const release = holdFirst();
    const first = transcribe(gw.keys.studio);
    await untilForwarded(1);
    const second = await transcribe(gw.keys.studio);
    expect(second).toBeInstanceOf(OpenAI.RateLimitError);
    expect(String((second as Error).message)).toMatch(/key 'studio' already has 1 MB of uploads in flight/);
    expect(upstream.received).toHaveLength(1);
    release();
    expect(await first).toBe(200);
    // Given back when the first ended.
    expect(await transcribe(gw.keys.studio)).toBe(200);
    expect(upstream.received).toHaveLength(2);
  });

  it("refuses another key's upload past the gateway's total", async () => {
    const release = holdFirst();
    const first = transcribe(gw.keys.studio);
    await untilForwarded(1);
    const other = await transcribe(gw.keys.other);
    expect(other).toBeInstanceOf(OpenAI.RateLimitError);
    expect(String((other as Error).message)).toMatch(/tollgate already holds 1 MB of uploads in flight/);
    const recs = await gw.waitForRecords(1);
    expect(recs.find((r) => r.key === 'other')).toMatchObject({
      status: 429,
      errorCode: 'rate_limit_exceeded',
    });
    release();
    expect(await first).toBe(200);
    expect(await transcribe(gw.keys.other)).toBe(200);
  });
});
