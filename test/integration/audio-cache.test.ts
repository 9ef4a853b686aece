import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';

/*
 * Cached audio input on OpenAI's realtime models (docs/api.md#cached-audio): OpenAI bills audio
 * read from the prompt cache at its own cached-audio price ($0.30 per million on
 * gpt-realtime-mini, against $0.06 for cached text and $10 for uncached audio), and its usage
 * counts the cached audio inside `audio_tokens` and, where it breaks the cache reads down, in
 * `cached_tokens_details.audio_tokens`. The charge is the catalog's bill for the same counts; an
 * answer without the breakdown is charged the dearest split the counts allow, never less than
 * the bill.
 */

const t = heldGateway((url) => ({ yaml: yaml(url) }));
const { reserved } = t;

const yaml = (base: string) => `version: 1
upstreams:
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: openai
models:
  gpt-realtime-mini:
    upstream: openai
keys:
  voice:
    hash: {{hash:voice}}
    limits: { daily_usd: 5 }
`;

const PROMPT = 10_000;
const CACHED = 6_000;
const AUDIO = 8_000;
const OUTPUT = 500;

async function post(details: Record<string, unknown>) {
  t.up.next(
    json(200, {
      id: 'c',
      object: 'chat.completion',
      model: 'gpt-realtime-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Bonjour.' }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: PROMPT,
        completion_tokens: OUTPUT,
        total_tokens: PROMPT + OUTPUT,
        prompt_tokens_details: { cached_tokens: CACHED, audio_tokens: AUDIO, ...details },
      },
    }),
  );
  const res = await fetch(`${t.gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.gw.keys.voice}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'gpt-realtime-mini',
      max_completion_tokens: OUTPUT,
      messages: [{ role: 'user', content: 'x'.repeat(3 * PROMPT) }],
    }),
  });
  await res.text();
  expect(res.status).toBe(200);
  return (await t.gw.waitForRecords(1)).at(-1);
}

const bill = (cachedAudio: number) =>
  calcPrice(
    {
      input_tokens: PROMPT,
      cache_read_tokens: CACHED,
      input_audio_tokens: AUDIO,
      cache_audio_read_tokens: cachedAudio,
      output_tokens: OUTPUT,
    },
    'gpt-realtime-mini',
    { providerId: 'openai', timestamp: new Date() },
  )?.total_price ?? Number.NaN;

describe('cached audio input', () => {
  it('charges cached audio at its own price and the rest of the audio uncached, as the catalog bills', async () => {
    const record = await post({ cached_tokens_details: { text_tokens: 1_000, audio_tokens: 5_000 } });
    expect(record?.usageSource).toBe('provider');
    expect(Math.abs((record?.costUsd ?? 0) - bill(5_000))).toBeLessThan(1e-9);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it('charges an answer that does not break its cache reads down at least every bill its counts allow', async () => {
    const record = await post({});
    // 8,000 audio in 4,000 uncached tokens: at least 4,000 of the 6,000 cached are audio.
    for (const cachedAudio of [4_000, 5_000, 6_000])
      expect(record?.costUsd).toBeGreaterThanOrEqual(bill(cachedAudio) - 1e-9);
    expect(Math.abs((record?.costUsd ?? 0) - bill(4_000))).toBeLessThan(1e-9);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });
});
