import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load/load.js';
import { tornWriteProblem } from '../../../src/config/reload/torn-write.js';
import type { Config } from '../../../src/config/types.js';
import { keysYaml, sha256Of } from '../../helpers/reload-yaml.js';

const NOW = Date.UTC(2026, 10, 26, 12);
const SERVED = keysYaml({
  keys: { 'cursor-dev': { hash: sha256Of('a') }, 'ci-bot': { hash: sha256Of('b') } },
});

function configOf(text: string): Config {
  const r = loadConfig(text, { file: 'keys.yaml', now: NOW });
  if (!r.config) throw new Error(r.errors.map((e) => e.message).join('; '));
  return r.config;
}

const served = { config: configOf(SERVED), endsWithNewline: true };
const check = (text: string, shape = served) => tornWriteProblem('keys.yaml', text, configOf(text), shape);

describe('tornWriteProblem', () => {
  it('refuses a prefix that ends before the keys section, pointing at the end of the file', () => {
    const prefix = SERVED.slice(0, SERVED.indexOf('keys:'));
    const p = check(prefix);
    expect(p?.message).toMatch(/^the file ends here with no keys \(the config being served has 2\)/);
    expect(p?.message).toContain('`keys: {}`');
    expect(p).toMatchObject({
      file: 'keys.yaml',
      line: prefix.split('\n').length,
      col: 1,
      severity: 'error',
    });
  });

  it('refuses a prefix that ends before the models section', () => {
    const prefix = SERVED.slice(0, SERVED.indexOf('models:'));
    expect(check(prefix)?.message).toMatch(/with no models/);
  });

  it('accepts removing every key on purpose with an explicit keys: {}', () => {
    expect(check(keysYaml({ keys: {} }))).toBeUndefined();
  });

  it('refuses a file cut inside a line when the served file ended with a newline', () => {
    const cut = SERVED.slice(0, SERVED.lastIndexOf('test key') + 'test k'.length);
    const p = check(cut);
    expect(p?.message).toMatch(/ends in the middle of a line/);
    expect(p).toMatchObject({ line: cut.split('\n').length, col: (cut.split('\n').at(-1) ?? '').length + 1 });
  });

  it('accepts a file without a final newline when the served one had none either', () => {
    const text = SERVED.trimEnd();
    expect(check(text, { ...served, endsWithNewline: false })).toBeUndefined();
  });

  it('accepts an ordinary edit, a removed key included', () => {
    expect(check(keysYaml({ keys: { 'cursor-dev': { hash: sha256Of('a'), dailyUsd: 3 } } }))).toBeUndefined();
  });
});
