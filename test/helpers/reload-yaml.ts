import { createHash } from 'node:crypto';

export interface FixtureKey {
  hash: string;
  models?: string[];
  dailyUsd?: number;
  rpm?: number;
  disabled?: boolean;
}

/** `sha256:<64 hex>` of a string, as keys.yaml stores it. */
export function sha256Of(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/**
 * A valid keys.yaml (docs/configuration.md) with one OpenAI-format upstream, two models and the given keys.
 * `comment` changes the bytes (and so the revision) without changing the meaning.
 */
export function keysYaml(opts: {
  keys: Record<string, FixtureKey>;
  upstreamUrl?: string;
  comment?: string;
}): string {
  const lines = [
    '# yaml-language-server: $schema=../schemas/keys.schema.json',
    'version: 1',
    'upstreams:',
    '  openai:',
    `    base_url: ${opts.upstreamUrl ?? 'http://127.0.0.1:9/v1'}`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: keys.yaml's literal `${ENV}` reference syntax
    '    api_key: ${OPENAI_API_KEY}',
    'models:',
    '  gpt-4o-mini:',
    '    upstream: openai',
    '    input_per_mtok: 0.15',
    '    output_per_mtok: 0.6',
    '    max_output_tokens: 1000',
    '  gpt-4o:',
    '    upstream: openai',
    '    input_per_mtok: 2.5',
    '    output_per_mtok: 10',
    '    max_output_tokens: 1000',
    'defaults:',
    '  limits:',
    '    daily_usd: 1',
    '    rpm: 1000',
    'keys:',
  ];
  for (const [name, k] of Object.entries(opts.keys)) {
    lines.push(`  ${name}:`, `    hash: ${k.hash}`, `    description: test key ${name}`);
    if (k.models) lines.push(`    models: [${k.models.map((m) => JSON.stringify(m)).join(', ')}]`);
    if (k.dailyUsd !== undefined || k.rpm !== undefined) {
      lines.push('    limits:');
      if (k.dailyUsd !== undefined) lines.push(`      daily_usd: ${k.dailyUsd}`);
      if (k.rpm !== undefined) lines.push(`      rpm: ${k.rpm}`);
    }
    if (k.disabled !== undefined) lines.push(`    disabled: ${k.disabled}`);
  }
  if (Object.keys(opts.keys).length === 0) lines[lines.length - 1] = 'keys: {}';
  if (opts.comment) lines.push(`# ${opts.comment}`);
  return `${lines.join('\n')}\n`;
}
