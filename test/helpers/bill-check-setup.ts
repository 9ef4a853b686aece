import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { Config, ModelConfig } from '../../src/config/types.js';
import { resolveModelName } from '../../src/policy/model-names.js';
import { costWith, priceAt } from '../../src/pricing/pricing.js';
import { US_INFERENCE_UPLIFT } from '../../src/pricing/uplift.js';
import type { Tally } from './fake-admin-api.js';
import type { Harness } from './gateway-harness.js';

/** What the bill-check tests share: a config with both providers billed, keys, and traffic. */

export const ADMIN_KEY = 'sk-admin-Zq8vW3nTESTADMINKEY0123456789';
export const UPSTREAM_KEYS = {
  openai: 'sk-upstream-openai-secret-0001',
  anthropic: 'sk-ant-upstream-secret-0002',
};
export const KEY_IDS = { openai: 'key_fakeOpenAI', anthropic: 'apikey_01FakeKey' };

export const billEnv = (): NodeJS.ProcessEnv => ({
  OPENAI_API_KEY: UPSTREAM_KEYS.openai,
  ANTHROPIC_API_KEY: UPSTREAM_KEYS.anthropic,
  OPENAI_ADMIN_KEY: ADMIN_KEY,
  ANTHROPIC_ADMIN_KEY: ADMIN_KEY,
});

export function billYaml(
  base: string,
  opts: { timezone?: string; hash?: (name: string) => string; openaiModels?: string[] } = {},
): string {
  const hash = opts.hash ?? ((name: string) => `{{hash:${name}}}`);
  return `version: 1
server:
  timezone: ${opts.timezone ?? 'UTC'}
upstreams:
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: openai
    billing:
      admin_key: \${OPENAI_ADMIN_KEY}
      api_key_id: ${KEY_IDS.openai}
      project_id: proj_fake
  anthropic:
    base_url: ${base}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
    provider: anthropic
    billing:
      admin_key: \${ANTHROPIC_ADMIN_KEY}
      api_key_id: ${KEY_IDS.anthropic}
      workspace_id: wrkspc_01FakeWorkspace
models:
  gpt-4o-mini:
    upstream: openai
${(opts.openaiModels ?? []).map((m) => `  ${m}:\n    upstream: openai\n`).join('')}  claude-haiku-4-5:
    upstream: anthropic
keys:
  dev:
    hash: ${hash('dev')}
`;
}

/**
 * The provider's dollars for a tally at tollgate's own prices, times `factor` (and times
 * US_INFERENCE_UPLIFT for Anthropic's US-only inference, as Anthropic bills it).
 */
export function pricedBy(config: Config, at: number, factor = 1): (t: Tally) => number {
  return (t) => {
    const model = resolveModelName(config, t.model, at).model as ModelConfig;
    const openai = !t.model.startsWith('claude');
    const input = openai ? t.input : t.input + t.cached + t.write5m + t.write1h;
    const usd = costWith(
      {
        inputTokens: input,
        cachedTokens: t.cached,
        cacheWriteTokens: t.write5m + t.write1h,
        cacheWrite1hTokens: t.write1h,
        outputTokens: t.output,
        inputAudioTokens: t.inputAudio ?? 0,
        outputAudioTokens: t.outputAudio ?? 0,
      },
      priceAt(model.prices, at),
      0,
    );
    return usd * factor * (t.geo === 'us' ? US_INFERENCE_UPLIFT : 1);
  };
}

/** `n` requests of each provider through the gateway, with the official SDKs. */
export async function sendTraffic(h: Harness, n: number): Promise<void> {
  const openai = new OpenAI({ apiKey: h.keys.dev, baseURL: h.baseURL, maxRetries: 0 });
  const anthropic = new Anthropic({ apiKey: h.keys.dev, baseURL: h.url, maxRetries: 0 });
  for (let i = 0; i < n; i++) {
    await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    await anthropic.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
  }
}
