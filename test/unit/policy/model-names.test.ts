import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load/load.js';
import type { Config } from '../../../src/config/types.js';
import { resolveModelName } from '../../../src/policy/model-names.js';
import { costOf } from '../../../src/pricing/pricing.js';

const NOW = Date.UTC(2026, 10, 30);

function config(models: string): Config {
  const r = loadConfig(
    `version: 1
upstreams:
  openai:
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_API_KEY}
  anthropic:
    base_url: https://api.anthropic.com/v1
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
models:
${models}`,
    { file: 'keys.yaml', now: NOW },
  );
  if (!r.config) throw new Error(JSON.stringify(r.errors));
  return r.config;
}

const usage = { inputTokens: 1_000_000, outputTokens: 1_000_000, cachedTokens: 0, cacheWriteTokens: 0 };

describe('resolving the names clients send', () => {
  const c = config(
    '  gpt-4o:\n    upstream: openai\n  my-model:\n    upstream: openai\n    input_per_mtok: 1\n    output_per_mtok: 2\n  claude-sonnet-4-5:\n    upstream: anthropic\n  claude-sonnet-4-5-20250929:\n    upstream: anthropic\n    output_per_mtok: 1\n  "claude-*":\n    upstream: anthropic\n',
  );

  it('prefers an exact entry, even one with a dated name', () => {
    expect(resolveModelName(c, 'gpt-4o', NOW)).toMatchObject({ via: 'exact', model: { name: 'gpt-4o' } });
    expect(resolveModelName(c, 'claude-sonnet-4-5-20250929', NOW)).toMatchObject({
      via: 'exact',
      model: { name: 'claude-sonnet-4-5-20250929', outputPerMtok: 1 },
    });
  });

  it('serves both dated-snapshot forms by the entry they extend', () => {
    expect(resolveModelName(c, 'gpt-4o-2024-11-20', NOW)).toMatchObject({
      via: 'snapshot',
      model: { name: 'gpt-4o' },
    });
    expect(resolveModelName(c, 'my-model-20250101', NOW)).toMatchObject({
      via: 'snapshot',
      model: { name: 'my-model', inputPerMtok: 1 },
    });
    expect(resolveModelName(c, 'gpt-4o-latest', NOW).model).toBeUndefined();
  });

  it('prices a snapshot the catalog prices apart at its own price, recorded under the entry', () => {
    const old = resolveModelName(c, 'gpt-4o-2024-05-13', NOW).model;
    expect(old?.name).toBe('gpt-4o');
    // gpt-4o-2024-05-13 costs $5/$15 per million, gpt-4o $2.50/$10.
    expect(costOf(usage, old ?? { prices: [] }, NOW)).toBeCloseTo(20, 9);
    const current = resolveModelName(c, 'gpt-4o-2024-11-20', NOW).model;
    expect(costOf(usage, current ?? { prices: [] }, NOW)).toBeCloseTo(12.5, 9);
  });

  it('serves a name behind a glob only if the catalog prices it, under the catalog id', () => {
    expect(resolveModelName(c, 'claude-haiku-4-5-20251001', NOW)).toMatchObject({
      via: 'glob',
      model: { name: 'claude-haiku-4-5', upstream: 'anthropic', inputPerMtok: 1, outputPerMtok: 5 },
    });
    const refused = resolveModelName(c, 'claude-made-up', NOW);
    expect(refused.model).toBeUndefined();
    expect(refused.model ? '' : refused.reason).toContain(
      "matches 'claude-*' in keys.yaml, but the price catalog",
    );
    expect(resolveModelName(c, 'claude-*', NOW).model).toBeUndefined();
    const unknown = resolveModelName(c, 'mistral-large', NOW);
    expect(unknown.model ? '' : unknown.reason).toBe("model 'mistral-large' is not served by this gateway");
  });
});
