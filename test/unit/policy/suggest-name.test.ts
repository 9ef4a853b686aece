import { describe, expect, it } from 'vitest';
import { editDistance, suggestName } from '../../../src/policy/suggest-name.js';

const names = ['cursor-dev', 'open-webui-team', 'ci-nightly', 'claude-code-bob'];

describe('suggestName', () => {
  it('counts a swap of two neighbouring letters as one edit', () => {
    expect(editDistance('cusror-dev', 'cursor-dev')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests the configured key a typo was meant to be', () => {
    expect(suggestName('cusror-dev', names)).toBe('cursor-dev');
    expect(suggestName('open-webui-tem', names)).toBe('open-webui-team');
    expect(suggestName('CI-Nightly', names)).toBe('ci-nightly');
  });

  it('suggests a key whose name contains the fragment that was typed', () => {
    expect(suggestName('webui', names)).toBe('open-webui-team');
  });

  it('suggests nothing when no name is close', () => {
    expect(suggestName('payroll-export', names)).toBeUndefined();
    expect(suggestName('', names)).toBeUndefined();
  });
});
