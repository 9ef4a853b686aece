import { describe, expect, it } from 'vitest';
import { type ConfigChange, diffConfigs, renderDiff } from '../../../src/config/diff/diff.js';
import { loadConfig } from '../../../src/config/load/load.js';
import type { Config } from '../../../src/config/types.js';
import { baseConfig, HASH_A, HASH_B, HASH_C, NOW } from './config-text.js';

function cfg(text: string): Config {
  const result = loadConfig(text, { file: 'keys.yaml', now: NOW });
  expect(result.errors).toEqual([]);
  return result.config as Config;
}

const key = (name: string, hash: string, body = '') => `  ${name}:\n    hash: ${hash}\n${body}`;

function changes(before: string, after: string): ConfigChange[] {
  return diffConfigs(cfg(baseConfig(before)), cfg(baseConfig(after)));
}

function one(before: string, after: string): ConfigChange {
  const list = changes(before, after);
  expect(list, JSON.stringify(list, null, 2)).toHaveLength(1);
  return list[0] as ConfigChange;
}

describe('diffConfigs on keys', () => {
  it('finds nothing between identical configs', () => {
    expect(changes(key('a', HASH_A), key('a', HASH_A))).toEqual([]);
  });

  it('reports an added key, flagged, with its limits', () => {
    const c = one(key('a', HASH_A), key('a', HASH_A) + key('b', HASH_B, '    limits: { daily_usd: 5 }\n'));
    expect(c).toMatchObject({ kind: 'key-added', subject: 'b', effect: 'widens' });
    expect(c.detail).toMatch(/daily_usd \$5; models: every model; never expires/);
  });

  it('reports a removed key', () => {
    expect(one(key('a', HASH_A) + key('b', HASH_B), key('a', HASH_A))).toMatchObject({
      kind: 'key-removed',
      subject: 'b',
      effect: 'narrows',
    });
  });

  it('reports a key renamed with the same hash as a rename that restarts its budgets, not as removed and added', () => {
    expect(one(key('old-name', HASH_A), key('new-name', HASH_A))).toMatchObject({
      kind: 'key-renamed',
      subject: 'new-name',
      effect: 'widens',
      detail: expect.stringMatching(/renamed from old-name \(same hash\): spend is tracked by name/),
    });
  });

  it('reports what else changed on a renamed key', () => {
    const list = changes(
      key('old-name', HASH_A, '    limits: { daily_usd: 5 }\n'),
      key('new-name', HASH_A, '    limits: { daily_usd: 6 }\n'),
    );
    expect(list.map((c) => c.kind)).toEqual(['key-renamed', 'limit-raised']);
  });

  it('reports a raised limit with its percentage, flagged as widening', () => {
    const c = one(
      key('a', HASH_A, '    limits: { daily_usd: 5 }\n'),
      key('a', HASH_A, '    limits: { daily_usd: 10 }\n'),
    );
    expect(c).toMatchObject({
      kind: 'limit-raised',
      effect: 'widens',
      detail: 'daily_usd raised $5 → $10 (+100%)',
    });
  });

  it('reports a lowered limit with its percentage', () => {
    const c = one(
      key('a', HASH_A, '    limits: { rpm: 60 }\n'),
      key('a', HASH_A, '    limits: { rpm: 45 }\n'),
    );
    expect(c).toMatchObject({
      kind: 'limit-lowered',
      effect: 'narrows',
      detail: 'rpm lowered 60 → 45 (-25%)',
    });
  });

  it('reports a removed limit as widening and an added one as narrowing', () => {
    expect(one(key('a', HASH_A, '    limits: { monthly_usd: 50 }\n'), key('a', HASH_A))).toMatchObject({
      kind: 'limit-removed',
      effect: 'widens',
      detail: 'monthly_usd $50 removed: now unlimited',
    });
    expect(one(key('a', HASH_A), key('a', HASH_A, '    limits: { max_parallel: 2 }\n'))).toMatchObject({
      kind: 'limit-added',
      effect: 'narrows',
    });
  });

  it('reports models widened, naming the models the key gains', () => {
    const c = one(
      key('a', HASH_A, '    models: [gpt-4o-mini]\n'),
      key('a', HASH_A, '    models: [gpt-4o-mini, gpt-4o]\n'),
    );
    expect(c).toMatchObject({
      kind: 'models-widened',
      effect: 'widens',
      detail: 'models widened: +gpt-4o (now allows gpt-4o)',
    });
  });

  it('reports removing the allow-list as widening to every model', () => {
    expect(one(key('a', HASH_A, '    models: [gpt-4o-mini]\n'), key('a', HASH_A))).toMatchObject({
      kind: 'models-widened',
      detail: expect.stringMatching(/every model/),
    });
  });

  it('reports models narrowed', () => {
    expect(
      one(key('a', HASH_A, '    models: ["gpt-*"]\n'), key('a', HASH_A, '    models: [gpt-4o]\n')),
    ).toMatchObject({
      kind: 'models-narrowed',
      detail: 'models narrowed: +gpt-4o, -gpt-*',
    });
    expect(
      one(
        key('a', HASH_A, '    models: [gpt-4o, gpt-4o-mini]\n'),
        key('a', HASH_A, '    models: [gpt-4o]\n'),
      ),
    ).toMatchObject({
      kind: 'models-narrowed',
      effect: 'narrows',
      detail: 'models narrowed: -gpt-4o-mini',
    });
    expect(one(key('a', HASH_A), key('a', HASH_A, '    models: [gpt-4o]\n'))).toMatchObject({
      kind: 'models-narrowed',
    });
  });

  it('reports a new glob as widening even when it matches no new model today', () => {
    expect(
      one(
        key('a', HASH_A, '    models: [gpt-4o, gpt-4o-mini]\n'),
        key('a', HASH_A, '    models: ["gpt-*"]\n'),
      ),
    ).toMatchObject({
      kind: 'models-widened',
      effect: 'widens',
      detail: expect.stringMatching(/future models/),
    });
  });

  it('ignores a reordered allow-list', () => {
    expect(
      changes(
        key('a', HASH_A, '    models: [gpt-4o, gpt-4o-mini]\n'),
        key('a', HASH_A, '    models: [gpt-4o-mini, gpt-4o]\n'),
      ),
    ).toEqual([]);
  });

  it('reports expiry moved later as widening and earlier as narrowing', () => {
    expect(
      one(key('a', HASH_A, '    expires: 2026-12-31\n'), key('a', HASH_A, '    expires: 2027-03-31\n')),
    ).toMatchObject({
      kind: 'expiry-moved',
      effect: 'widens',
      detail: 'expiry moved later: 2026-12-31 → 2027-03-31',
    });
    expect(
      one(key('a', HASH_A, '    expires: 2027-03-31\n'), key('a', HASH_A, '    expires: 2026-12-31\n')),
    ).toMatchObject({
      kind: 'expiry-moved',
      effect: 'narrows',
    });
  });

  it('reports an expiry removed or added', () => {
    expect(one(key('a', HASH_A, '    expires: 2026-12-31\n'), key('a', HASH_A))).toMatchObject({
      kind: 'expiry-removed',
      effect: 'widens',
    });
    expect(one(key('a', HASH_A), key('a', HASH_A, '    expires: 2026-12-31\n'))).toMatchObject({
      kind: 'expiry-added',
      effect: 'narrows',
    });
  });

  it('reports a key disabled and enabled', () => {
    expect(one(key('a', HASH_A), key('a', HASH_A, '    disabled: true\n'))).toMatchObject({
      kind: 'key-disabled',
      effect: 'narrows',
    });
    expect(one(key('a', HASH_A, '    disabled: true\n'), key('a', HASH_A))).toMatchObject({
      kind: 'key-enabled',
      effect: 'widens',
    });
  });

  it('reports a rotation: a hash added, then the old one removed', () => {
    expect(one(key('a', HASH_A), key('a', `[${HASH_A}, ${HASH_B}]`))).toMatchObject({
      kind: 'hash-added',
      effect: 'widens',
    });
    expect(one(key('a', `[${HASH_A}, ${HASH_B}]`), key('a', HASH_B))).toMatchObject({
      kind: 'hash-removed',
      effect: 'narrows',
    });
  });

  it('reports description, owner, notify and tags changes as details', () => {
    expect(
      one(
        key('a', HASH_A, '    owner: alice\n'),
        key('a', HASH_A, '    owner: bob\n    tags: { env: dev }\n'),
      ),
    ).toMatchObject({
      kind: 'key-details',
      effect: 'neutral',
      detail: 'owner, tags changed',
    });
  });
});

describe('diffConfigs on models, upstreams and settings', () => {
  const keys = key('a', HASH_A) + key('b', HASH_C, '    models: [gpt-4o]\n');

  it('reports a price change with its percentage', () => {
    const before = baseConfig(keys);
    const after = before.replace('output_per_mtok: 10', 'output_per_mtok: 12');
    const list = diffConfigs(cfg(before), cfg(after));
    expect(list).toEqual([
      {
        area: 'models',
        kind: 'price-changed',
        subject: 'gpt-4o',
        effect: 'neutral',
        detail: 'output_per_mtok $10 → $12 (+20%)',
      },
    ]);
  });

  it('reports an added model with how many keys may use it, and a removed one', () => {
    const before = baseConfig(keys);
    const after = before.replace(
      'models:\n',
      'models:\n  o1:\n    upstream: openai\n    input_per_mtok: 15\n    output_per_mtok: 60\n',
    );
    expect(diffConfigs(cfg(before), cfg(after))).toEqual([
      expect.objectContaining({
        kind: 'model-added',
        subject: 'o1',
        effect: 'widens',
        detail: expect.stringMatching(/1 key\(s\) may use it/),
      }),
    ]);
    expect(diffConfigs(cfg(after), cfg(before))).toEqual([
      expect.objectContaining({ kind: 'model-removed', subject: 'o1' }),
    ]);
  });

  it('flags an upstream whose base_url or key variable changed', () => {
    const before = baseConfig(keys);
    const after = before
      .replace('https://api.openai.com/v1', 'https://proxy.example.com/v1')
      .replace('OPENAI_API_KEY', 'OTHER_KEY');
    const list = diffConfigs(cfg(before), cfg(after));
    expect(list.map((c) => [c.kind, c.effect])).toEqual([
      ['upstream-changed', 'sensitive'],
      ['upstream-changed', 'sensitive'],
    ]);
    expect(list[0]?.detail).toMatch(/proxy\.example\.com/);
  });

  it('reports changed defaults and the effective limits they change on keys', () => {
    const before = baseConfig(keys, 'defaults:\n  limits: { daily_usd: 1 }\n');
    const after = baseConfig(keys, 'defaults:\n  limits: { daily_usd: 2 }\n');
    const list = diffConfigs(cfg(before), cfg(after));
    expect(list.map((c) => [c.area, c.subject, c.detail])).toEqual([
      ['keys', 'a', 'daily_usd raised $1 → $2 (+100%)'],
      ['keys', 'b', 'daily_usd raised $1 → $2 (+100%)'],
      ['defaults', 'limits', 'daily_usd raised $1 → $2 (+100%)'],
    ]);
  });

  it('reports server and slack changes', () => {
    const before = baseConfig(keys);
    const after = baseConfig(keys, 'server:\n  timezone: Europe/Berlin\nslack:\n  channel: C1\n');
    expect(diffConfigs(cfg(before), cfg(after)).map((c) => c.kind)).toEqual([
      'server-changed',
      'slack-changed',
    ]);
  });

  it('reports the circuit breaker switched on and the spike and expiry settings that changed', () => {
    const before = baseConfig(keys, 'slack:\n  channel: C1\n');
    const after = baseConfig(
      keys,
      'slack:\n  channel: C1\n  alerts:\n    spike_action: disable\n    spike_factor: 3\n    expiry_days: []\n',
    );
    const [change, ...rest] = diffConfigs(cfg(before), cfg(after));
    expect(rest).toEqual([]);
    expect(change?.kind).toBe('slack-changed');
    expect(change?.detail).toContain('spike 5x and $1: alert, expiry reminders 7 1 →');
    expect(change?.detail).toMatch(/→ .*spike 3x and \$1: disable, expiry reminders off$/);
  });

  it('flags a change of the browser origins allowed to call /v1 as sensitive', () => {
    const before = baseConfig(keys);
    const after = baseConfig(keys, 'server:\n  cors_origins: ["https://chat.example.com"]\n');
    expect(diffConfigs(cfg(before), cfg(after)).map((c) => [c.subject, c.effect, c.detail])).toEqual([
      ['cors_origins', 'sensitive', 'none → https://chat.example.com'],
    ]);
  });
});

describe('renderDiff', () => {
  const list = changes(
    key('a', HASH_A, '    limits: { daily_usd: 5 }\n') + key('gone', HASH_B),
    key('a', HASH_A, '    limits: { daily_usd: 10 }\n') + key('new', HASH_C),
  );

  it('renders markdown with a summary, a section per area and ⚠ on what widens access', () => {
    const md = renderDiff(list, 'markdown');
    // The ⚠ count is the number of ⚠ lines; added and removed keys are counted by their own marks.
    expect(md).toMatch(
      /^\*\*tollgate diff\*\*: 3 changes; ⚠ 1 widens access or spend; ➕ 1 key added; ➖ 1 key removed\./,
    );
    expect(md).toContain('**Keys**');
    expect(md).toContain('- ⚠ `a`: daily_usd raised $5 → $10 (+100%)');
    expect(md).toContain('- ➕ `new`: new key:');
    expect(md).toContain('- ➖ `gone`: removed');
  });

  it('renders plain text for a terminal', () => {
    const text = renderDiff(list, 'text');
    expect(text).toMatch(/^tollgate diff: 3 changes/);
    expect(text).toContain('Keys:\n  ⚠ a: daily_usd raised $5 → $10 (+100%)');
    expect(text).not.toContain('**');
  });

  it('says so when nothing changed', () => {
    expect(renderDiff([], 'markdown')).toBe('No changes to keys, limits, models or upstreams.\n');
  });
});
