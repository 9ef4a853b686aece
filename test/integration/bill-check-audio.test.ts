import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkDay } from '../../src/billing/check-day.js';
import {
  ADMIN_KEY,
  billEnv,
  billYaml,
  KEY_IDS,
  pricedBy,
  UPSTREAM_KEYS,
} from '../helpers/bill-check-setup.js';
import { type FakeProvider, startFakeProvider } from '../helpers/fake-admin-api.js';
import { type Harness, manualClock, startGateway } from '../helpers/gateway-harness.js';

const DAY = '2026-11-21';
const NOON = Date.parse(`${DAY}T12:00:00Z`);
const noSleep = { sleep: async () => {} };

describe('the bill check of a day with audio through an OpenAI audio model', () => {
  let clock: ReturnType<typeof manualClock>;
  let provider: FakeProvider;
  let h: Harness;

  beforeEach(async () => {
    clock = manualClock(NOON);
    provider = await startFakeProvider({ clock, adminKey: ADMIN_KEY });
    provider.keyIds.set(UPSTREAM_KEYS.openai, KEY_IDS.openai);
    h = await startGateway({
      yaml: billYaml(provider.baseUrl, { openaiModels: ['gpt-audio'] }),
      env: billEnv(),
      clock,
    });
    provider.price = pricedBy(h.deps.config.current().config, NOON);
  });

  afterEach(async () => {
    await h.close();
    await provider.close();
  });

  async function sendAudioTraffic(n: number): Promise<void> {
    const openai = new OpenAI({ apiKey: h.keys.dev, baseURL: h.baseURL, maxRetries: 0 });
    for (let i = 0; i < n; i++) {
      await openai.chat.completions.create({
        model: 'gpt-audio',
        modalities: ['text', 'audio'],
        audio: { voice: 'alloy', format: 'wav' },
        messages: [{ role: 'user', content: 'say hi' }],
      });
    }
    await h.waitForRecords(n);
  }

  const check = async () => {
    const rows = await checkDay(
      { config: h.deps.config.current().config, store: h.store, env: billEnv(), now: clock, http: noSleep },
      DAY,
    );
    return rows.filter((r) => r.upstream === 'openai');
  };

  it('matches when the usage report counts audio inside input and output tokens, cached audio included', async () => {
    provider.openAiUsageForm = 'breakdown';
    await sendAudioTraffic(2);
    const rows = await check();
    expect(rows.map((r) => [r.model, r.verdict])).toEqual([['gpt-audio', 'match']]);
    const row = rows[0];
    // 2 × (120,000 prompt of which 20,000 cached; 345 completion): audio is in every count.
    expect(row?.billed_tokens).toEqual({ input: 200_000, cached_input: 40_000, cache_write: 0, output: 690 });
    expect(row?.billed_tokens).toEqual(row?.metered_tokens);
    expect(Math.abs(row?.delta_usd ?? 1)).toBeLessThan(1e-6);
  });

  it('matches when the usage report counts text in input and output tokens and audio apart', async () => {
    provider.openAiUsageForm = 'text-only';
    // This form does not say how much of the audio was cached: a day of uncached audio.
    provider.cachedAudio = false;
    await sendAudioTraffic(2);
    const rows = await check();
    expect(rows.map((r) => [r.model, r.verdict])).toEqual([['gpt-audio', 'match']]);
    const row = rows[0];
    expect(row?.billed_tokens).toEqual({ input: 200_000, cached_input: 40_000, cache_write: 0, output: 690 });
    expect(row?.billed_tokens).toEqual(row?.metered_tokens);
    expect(Math.abs(row?.delta_usd ?? 1)).toBeLessThan(1e-6);
  });
});
