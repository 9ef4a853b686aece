import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load/load.js';
import { CATALOG_VERSION } from '../../../src/pricing/catalog.js';
import { HASH_A, NOW, positionOf } from './config-text.js';

const load = (text: string) => loadConfig(text, { file: 'keys.yaml', now: NOW });

const file = (models: string, upstreamExtra = '') => `version: 1
upstreams:
  openai:
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_API_KEY}
${upstreamExtra}  anthropic:
    base_url: https://api.anthropic.com/v1
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
models:
${models}keys:
  a:
    hash: ${HASH_A}
    models: [gpt-4o-mini, claude-haiku-4-5]
`;

describe('price rules', () => {
  it('takes the prices of a model that sets none from the catalog, detecting the provider from base_url', () => {
    const r = load(file('  gpt-4o-mini:\n    upstream: openai\n  "claude-*":\n    upstream: anthropic\n'));
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.config?.upstreams.anthropic?.provider).toBe('anthropic');
    expect(r.config?.models['gpt-4o-mini']).toMatchObject({
      inputPerMtok: 0.15,
      outputPerMtok: 0.6,
      cachedInputPerMtok: 0.075,
      catalogId: 'gpt-4o-mini',
      priceSources: { input: 'catalog', output: 'catalog', cachedInput: 'catalog', cacheWrite: 'default' },
    });
  });

  it('refuses a model with no price anywhere, naming it at its line and column', () => {
    const text = file(
      '  gpt-4o-mini:\n    upstream: openai\n  my-finetune:\n    upstream: openai\n    input_per_mtok: 0.3\n  "claude-*":\n    upstream: anthropic\n',
    );
    const r = load(text);
    expect(r.config).toBeUndefined();
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({
      path: 'models.my-finetune',
      ...positionOf(text, 'upstream: openai', 2),
    });
    expect(r.errors[0]?.message).toContain("model 'my-finetune' has no price");
    expect(r.errors[0]?.message).toContain(CATALOG_VERSION);
    expect(r.errors[0]?.message).toContain('set output_per_mtok');
  });

  it('warns when an explicit price differs from the catalog by more than half, and not when it is close', () => {
    const text = file(
      '  gpt-4o-mini:\n    upstream: openai\n    input_per_mtok: 1.5\n    output_per_mtok: 0.55\n  "claude-*":\n    upstream: anthropic\n',
    );
    const r = load(text);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatchObject({
      path: 'models.gpt-4o-mini.input_per_mtok',
      ...positionOf(text, '1.5'),
    });
    expect(r.warnings[0]?.message).toContain("sets input_per_mtok: 1.5, 10 x the catalog's 0.15");
    // The explicit price still wins.
    expect(r.config?.models['gpt-4o-mini']?.inputPerMtok).toBe(1.5);
  });

  it("warns when an explicit audio price differs from the catalog's by more than half", () => {
    const text = file(
      '  gpt-4o-mini:\n    upstream: openai\n  gpt-realtime-mini:\n    upstream: openai\n    input_audio_per_mtok: 1\n  "claude-*":\n    upstream: anthropic\n',
    );
    const r = load(text);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]?.path).toBe('models.gpt-realtime-mini.input_audio_per_mtok');
    expect(r.warnings[0]?.message).toContain('sets input_audio_per_mtok: 1,');
  });

  it('refuses a provider the catalog does not know', () => {
    const text = file(
      '  gpt-4o-mini:\n    upstream: openai\n  "claude-*":\n    upstream: anthropic\n',
      '    provider: opneai\n',
    );
    const r = load(text);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ path: 'upstreams.openai.provider', ...positionOf(text, 'opneai') });
  });

  it('lets an allow-list name a model that only a glob entry serves', () => {
    const r = load(file('  gpt-4o-mini:\n    upstream: openai\n  "claude-*":\n    upstream: anthropic\n'));
    expect(r.errors).toEqual([]);
    const none = load(file('  gpt-4o-mini:\n    upstream: openai\n'));
    expect(none.errors.map((e) => e.path)).toEqual(['keys.a.models[1]']);
  });
});
