import { describe, expect, it } from 'vitest';
import { type ConfigChange, diffConfigs, renderDiff } from '../../../src/config/diff/diff.js';
import { loadConfig } from '../../../src/config/load/load.js';
import type { Config } from '../../../src/config/types.js';
import { baseConfig, HASH_A, HASH_B, NOW } from './config-text.js';

function cfg(keys: string, groups: string): Config {
  const result = loadConfig(baseConfig(keys, groups ? `groups:\n${groups}` : ''), {
    file: 'keys.yaml',
    now: NOW,
  });
  expect(result.errors).toEqual([]);
  return result.config as Config;
}

const key = (name: string, hash: string, group?: string) =>
  `  ${name}:\n    hash: ${hash}\n${group ? `    group: ${group}\n` : ''}`;
const group = (name: string, limits = '{ daily_usd: 50 }') => `  ${name}:\n    limits: ${limits}\n`;

function changes(before: [string, string], after: [string, string]): ConfigChange[] {
  return diffConfigs(cfg(...before), cfg(...after));
}

describe('diffConfigs on groups', () => {
  it('reports an added group with its limits and a key that joins it', () => {
    const list = changes([key('a', HASH_A), ''], [key('a', HASH_A, 'backend'), group('backend')]);
    expect(list).toEqual([
      {
        area: 'keys',
        kind: 'key-group-changed',
        subject: 'a',
        effect: 'narrows',
        detail: 'joins group backend: also bound by its limits',
      },
      {
        area: 'groups',
        kind: 'group-added',
        subject: 'backend',
        effect: 'narrows',
        detail: 'new group: daily_usd $50',
      },
    ]);
  });

  it('reports a removed group and the keys that leave it as widening', () => {
    const list = changes([key('a', HASH_A, 'backend'), group('backend')], [key('a', HASH_A), '']);
    expect(list.map((c) => [c.kind, c.effect])).toEqual([
      ['key-group-changed', 'widens'],
      ['group-removed', 'widens'],
    ]);
  });

  it('reports a key moved between groups', () => {
    const groups = group('backend') + group('frontend');
    const list = changes(
      [key('a', HASH_A, 'backend') + key('b', HASH_B, 'frontend'), groups],
      [key('a', HASH_A, 'frontend') + key('b', HASH_B, 'frontend'), groups],
    );
    expect(list).toEqual([
      {
        area: 'keys',
        kind: 'key-group-changed',
        subject: 'a',
        effect: 'widens',
        detail: "moved from group backend to group frontend: its spend now counts against frontend's limits",
      },
    ]);
  });

  it('reports group limits raised and lowered with percentages, hourly, weekly and tpm included', () => {
    const list = changes(
      [
        key('a', HASH_A, 'backend'),
        group('backend', '{ hourly_usd: 2, daily_usd: 50, weekly_usd: 100, tpm: 1000 }'),
      ],
      [
        key('a', HASH_A, 'backend'),
        group('backend', '{ hourly_usd: 3, daily_usd: 40, weekly_usd: 100, tpm: 1500 }'),
      ],
    );
    expect(list.map((c) => `${c.area} ${c.kind} ${c.subject}: ${c.detail}`)).toEqual([
      'groups limit-raised backend: hourly_usd raised $2 → $3 (+50%)',
      'groups limit-lowered backend: daily_usd lowered $50 → $40 (-20%)',
      'groups limit-raised backend: tpm raised 1000 → 1500 (+50%)',
    ]);
  });

  it('reports a group renamed with its keys as a rename, not as keys moving', () => {
    const list = changes(
      [key('a', HASH_A, 'backend') + key('b', HASH_B, 'backend'), group('backend')],
      [key('a', HASH_A, 'platform') + key('b', HASH_B, 'platform'), group('platform')],
    );
    expect(list).toEqual([
      expect.objectContaining({ kind: 'group-renamed', subject: 'platform', effect: 'widens' }),
    ]);
    expect(list[0]?.detail).toMatch(/^renamed from backend \(same keys\)/);
  });

  it('renders a Groups section and a new key with its group', () => {
    const list = changes(
      [key('a', HASH_A), ''],
      [key('a', HASH_A) + key('b', HASH_B, 'backend'), group('backend')],
    );
    const md = renderDiff(list, 'markdown');
    expect(md).toContain('**Groups**\n- ↓ `backend`: new group: daily_usd $50');
    expect(md).toContain('- ➕ `b`: new key: no limits; group backend; models: every model; never expires');
  });

  it('reports hourly and weekly limits and tpm on keys', () => {
    const before = `  a:\n    hash: ${HASH_A}\n    limits: { hourly_usd: 1, tpm: 1000 }\n`;
    const after = `  a:\n    hash: ${HASH_A}\n    limits: { hourly_usd: 2, weekly_usd: 20 }\n`;
    expect(changes([before, ''], [after, '']).map((c) => c.detail)).toEqual([
      'hourly_usd raised $1 → $2 (+100%)',
      'weekly_usd set to $20 (was unlimited)',
      'tpm 1000 removed: now unlimited',
    ]);
  });
});
