import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KEY_PATTERN, mintKey } from '../../../src/keys/format.js';

const root = new URL('../../../', import.meta.url);

function gitleaksRegex(): string {
  const toml = readFileSync(new URL('.gitleaks.toml', root), 'utf8');
  const m = /id = "tollgate-key"[\s\S]*?regex = '''(.+?)'''/.exec(toml);
  if (!m?.[1]) throw new Error('.gitleaks.toml has no tollgate-key regex');
  return m[1];
}

describe('secret scanning rules', () => {
  it('gives gitleaks the same pattern as KEY_PATTERN, capturing the key', () => {
    expect(gitleaksRegex()).toBe(`\\b(${KEY_PATTERN.source.slice(2, -2)})\\b`);
  });

  it('matches a minted key inside text and not a shorter or longer look-alike', () => {
    const re = new RegExp(gitleaksRegex());
    const key = mintKey();
    expect(re.exec(`OPENAI_API_KEY=${key}\n`)?.[1]).toBe(key);
    expect(re.test(`x=${key.slice(0, -1)}`)).toBe(false);
    expect(re.test(`x=${key}A`)).toBe(false);
  });

  it('documents the same pattern for GitHub custom patterns', () => {
    const doc = readFileSync(new URL('docs/secret-scanning.md', root), 'utf8');
    expect(doc).toContain(KEY_PATTERN.source);
    expect(doc).toMatch(/\| Secret format +\| `tgk_\[0-9A-Za-z\]\{38\}` +\|/);
  });
});
