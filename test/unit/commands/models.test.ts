import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ModelRow, models } from '../../../src/commands/models.js';
import { CATALOG_VERSION } from '../../../src/pricing/catalog.js';
import { fakeIO } from './fake-io.js';

const FILE = `version: 1
upstreams:
  openai:
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_API_KEY}
  anthropic:
    base_url: https://api.anthropic.com/v1
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
models:
  gpt-4o-mini:
    upstream: openai
  my-finetune:
    upstream: openai
    input_per_mtok: 0.3
    output_per_mtok: 1.2
  claude-sonnet-4-5:
    upstream: anthropic
    output_per_mtok: 14
  "claude-*":
    upstream: anthropic
keys:
  cherry:
    hash: sha256:${'a'.repeat(64)}
    models: [gpt-4o-mini, claude-haiku-4-5]
`;

function configFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-models-'));
  writeFileSync(join(dir, 'keys.yaml'), FILE);
  return join(dir, 'keys.yaml');
}

async function rows(args: string[]): Promise<{ catalog: string; models: ModelRow[] }> {
  const run = fakeIO();
  expect(await models(['--config', configFile(), '--format', 'json', ...args], run.io)).toBe(0);
  return JSON.parse(run.stdout());
}

describe('tollgate models', () => {
  it('lists every model with its prices and where each comes from, and what a glob serves', async () => {
    const out = await rows([]);
    expect(out.catalog).toBe(CATALOG_VERSION);
    const by = new Map(out.models.map((m) => [m.model, m]));
    expect(by.get('gpt-4o-mini')).toMatchObject({
      entry: 'gpt-4o-mini',
      input_per_mtok: 0.15,
      cached_input_per_mtok: 0.075,
      output_per_mtok: 0.6,
      max_output_tokens: 16384,
      sources: { input: 'catalog', output: 'catalog', cached_input: 'catalog' },
      catalog: `${CATALOG_VERSION} (gpt-4o-mini)`,
    });
    expect(by.get('my-finetune')).toMatchObject({
      input_per_mtok: 0.3,
      cached_input_per_mtok: 0.3,
      cache_write_per_mtok: 0.3,
      output_per_mtok: 1.2,
      sources: { input: 'keys.yaml', output: 'keys.yaml', cached_input: 'default', cache_write: 'default' },
      catalog: null,
    });
    expect(by.get('claude-sonnet-4-5')).toMatchObject({
      input_per_mtok: 3,
      cache_write_per_mtok: 3.75,
      cache_write_1h_per_mtok: 6,
      output_per_mtok: 14,
      tiers: [{ above_input_tokens: 200000, input_per_mtok: 6, output_per_mtok: 14 }],
      sources: { input: 'catalog', output: 'keys.yaml' },
    });
    expect(by.get('claude-haiku-4-5')).toMatchObject({
      entry: 'claude-*',
      input_per_mtok: 1,
      output_per_mtok: 5,
    });
    expect(by.has('claude-*')).toBe(false);
  });

  it('lists only the models a key may use with --key', async () => {
    const out = await rows(['--key', 'cherry']);
    expect(out.models.map((m) => m.model)).toEqual(['gpt-4o-mini', 'claude-haiku-4-5']);
  });

  it('prints a table naming the catalog version, and refuses an unknown key', async () => {
    const run = fakeIO();
    expect(await models(['--config', configFile()], run.io)).toBe(0);
    expect(run.stdout()).toMatch(/^claude-sonnet-4-5 +anthropic +3 \/ 6 >200k +0\.3 +3\.75 \(1h 6\) +14 /m);
    expect(run.stdout()).toContain(`catalog: ${CATALOG_VERSION}.`);
    const bad = fakeIO();
    expect(await models(['--config', configFile(), '--key', 'nobody'], bad.io)).toBe(1);
    expect(bad.stderr()).toContain("has no key 'nobody'");
  });
});
