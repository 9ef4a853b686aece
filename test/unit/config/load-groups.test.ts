import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load/load.js';
import type { Problem } from '../../../src/config/types.js';
import { baseConfig, HASH_A, HASH_B, NOW, positionOf } from './config-text.js';

const load = (text: string) => loadConfig(text, { file: 'keys.yaml', now: NOW });

/** Asserts the one error of `text` points at `needle` and its message matches. */
function expectOneError(text: string, needle: string, message: RegExp): void {
  const result = load(text);
  expect(result.config).toBeUndefined();
  expect(result.errors, JSON.stringify(result.errors, null, 2)).toHaveLength(1);
  const problem = result.errors[0] as Problem;
  expect(problem).toMatchObject({ file: 'keys.yaml', severity: 'error', ...positionOf(text, needle) });
  expect(problem.message).toMatch(message);
}

const groups = (body: string) => `groups:\n${body}`;

describe('loadConfig with groups, hourly and weekly windows and tpm', () => {
  it('normalizes groups and the new limits, and leaves defaults.limits off groups', () => {
    const text = baseConfig(
      `  a:\n    hash: ${HASH_A}\n    group: backend\n    limits: { hourly_usd: 1, weekly_usd: 20, tpm: 200000 }\n`,
      'defaults:\n  limits: { daily_usd: 1 }\n' +
        groups(
          '  backend:\n    description: the API team\n    limits: { hourly_usd: 5, daily_usd: 50, weekly_usd: 200, monthly_usd: 500, rpm: 600, tpm: 1000000, max_parallel: 20 }\n',
        ),
    );
    const result = load(text);
    expect(result.errors).toEqual([]);
    expect(result.config?.keys.a).toMatchObject({
      group: 'backend',
      limits: { dailyUsd: 1, hourlyUsd: 1, weeklyUsd: 20, tpm: 200_000 },
    });
    expect(result.config?.groups?.backend).toEqual({
      name: 'backend',
      description: 'the API team',
      limits: {
        hourlyUsd: 5,
        dailyUsd: 50,
        weeklyUsd: 200,
        monthlyUsd: 500,
        rpm: 600,
        tpm: 1_000_000,
        maxParallel: 20,
      },
    });
  });

  it("points at a key's unknown group and suggests the one meant", () => {
    const text = baseConfig(
      `  a:\n    hash: ${HASH_A}\n    group: bakcend\n`,
      groups('  backend:\n    limits: { daily_usd: 50 }\n'),
    );
    expectOneError(
      text,
      'bakcend',
      /^key 'a' is in group 'bakcend', which is not defined under groups: did you mean 'backend'\?$/,
    );
  });

  it('lists the defined groups when no name is close, and says when there are none', () => {
    const some = baseConfig(`  a:\n    hash: ${HASH_A}\n    group: zzz\n`, groups('  backend: {}\n'));
    expectOneError(some, 'zzz', /defined groups: backend$/);
    const none = baseConfig(`  a:\n    hash: ${HASH_A}\n    group: zzz\n`);
    expectOneError(none, 'zzz', /no groups are defined$/);
  });

  it('refuses a group name that does not follow the key-name pattern, at the name', () => {
    const text = baseConfig(
      `  a:\n    hash: ${HASH_A}\n`,
      groups('  Backend Team:\n    limits: { daily_usd: 5 }\n'),
    );
    expectOneError(
      text,
      'Backend Team',
      /^group name 'Backend Team' is invalid: use 1 to 63 lowercase letters/,
    );
  });

  it('refuses max_output_tokens on a group, since it caps one request and not a pot', () => {
    const text = baseConfig(
      `  a:\n    hash: ${HASH_A}\n`,
      groups('  backend:\n    limits:\n      max_output_tokens: 100\n'),
    );
    expectOneError(
      text,
      'max_output_tokens',
      /^unknown field 'max_output_tokens' in groups\.backend\.limits/,
    );
  });

  it('points at a typo in a group limit with a suggestion', () => {
    const text = baseConfig(
      `  a:\n    hash: ${HASH_A}\n`,
      groups('  backend:\n    limits:\n      weekly_usdd: 5\n'),
    );
    expectOneError(text, 'weekly_usdd', /did you mean 'weekly_usd'\?/);
  });

  it('points at a negative hourly_usd, a fractional tpm and a non-string group', () => {
    expectOneError(
      baseConfig(`  a:\n    hash: ${HASH_A}\n    limits:\n      hourly_usd: -1\n`),
      '-1',
      /keys\.a\.limits\.hourly_usd/,
    );
    expectOneError(
      baseConfig(`  a:\n    hash: ${HASH_A}\n    limits:\n      tpm: 1.5\n`),
      '1.5',
      /keys\.a\.limits\.tpm must be an integer/,
    );
    expectOneError(
      baseConfig(`  a:\n    hash: ${HASH_A}\n    group: [x]\n`),
      '[x]',
      /keys\.a\.group must be a string/,
    );
  });

  it('reports an unknown group in the same run as a schema error elsewhere, but not for a group the schema removed', () => {
    const text = baseConfig(
      `  a:\n    hash: ${HASH_A}\n    group: bakend\n  b:\n    hash: ${HASH_B}\n    group: broken\n`,
      groups('  backend: {}\n  broken:\n    limits: { daily_usd: -5 }\n'),
    );
    const result = load(text);
    expect(result.errors.map((e) => [e.line, e.col, e.message.slice(0, 30)])).toEqual([
      [positionOf(text, '-5').line, positionOf(text, '-5').col, expect.any(String)],
      [positionOf(text, 'bakend').line, positionOf(text, 'bakend').col, "key 'a' is in group 'bakend', "],
    ]);
  });
});
