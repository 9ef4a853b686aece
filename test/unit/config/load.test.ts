import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffConfigs } from '../../../src/config/diff/diff.js';
import { buildKeyIndex, loadConfig } from '../../../src/config/load/load.js';
import { contentRevision } from '../../../src/config/reload/revision.js';
import type { LoadResult, Problem } from '../../../src/config/types.js';
import { mintKey } from '../../../src/keys/format.js';
import { baseConfig, HASH_A, HASH_B, HASH_C, NOW, positionOf } from './config-text.js';

const load = (text: string, now = NOW): LoadResult => loadConfig(text, { file: 'keys.yaml', now });

function only(problems: Problem[]): Problem {
  expect(problems, JSON.stringify(problems, null, 2)).toHaveLength(1);
  return problems[0] as Problem;
}

/** Asserts the one error of `text` points at `needle` and its message matches. */
function expectOneError(text: string, needle: string, message: RegExp, occurrence = 1): Problem {
  const result = load(text);
  expect(result.config).toBeUndefined();
  const problem = only(result.errors);
  expect(problem).toMatchObject({
    file: 'keys.yaml',
    severity: 'error',
    ...positionOf(text, needle, occurrence),
  });
  expect(problem.message).toMatch(message);
  return problem;
}

describe('loadConfig on the example', () => {
  it('loads config/keys.yaml with no errors and no warnings', () => {
    const text = readFileSync(new URL('../../../config/keys.yaml', import.meta.url), 'utf8');
    const result = loadConfig(text, { file: 'config/keys.yaml', now: Date.UTC(2026, 10, 26) });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/keys.schema.json');
    expect(Object.keys(result.config?.keys ?? {})).toEqual([
      'cursor-dev',
      'cherry-studio-personal',
      'open-webui-team',
      'backend-staging',
      'backend-production',
    ]);
    expect(result.config?.upstreams.anthropic).toMatchObject({
      apiKeyEnv: 'ANTHROPIC_API_KEY',
      format: 'anthropic',
    });
  });
});

describe('loadConfig normalization', () => {
  const text = `version: 1
server:
  timezone: Europe/Berlin
upstreams:
  openai:
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_API_KEY}
  anthropic:
    base_url: https://api.anthropic.com/v1
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
    timeout_ms: 1000
models:
  gpt-4o-mini: { upstream: openai, input_per_mtok: 0.15, output_per_mtok: 0.6 }
  claude-sonnet-4-5: { upstream: anthropic, input_per_mtok: 3, output_per_mtok: 15, cached_input_per_mtok: 0.3, max_output_tokens: 64000 }
defaults:
  limits: { daily_usd: 1, rpm: 30 }
keys:
  cursor-dev:
    hash: ${HASH_A}
    limits: { daily_usd: 5, monthly_usd: 50 }
    models: ["claude-*"]
    expires: 2027-03-31
  rotating:
    hash: [${HASH_B}, ${HASH_C}]
    disabled: true
    tags: { env: dev }
slack:
  channel: C0123ABCD
`;

  it('merges defaults.limits under each key and keeps the key’s own values', () => {
    const config = load(text).config;
    expect(config?.keys['cursor-dev']?.limits).toEqual({ dailyUsd: 5, monthlyUsd: 50, rpm: 30 });
    expect(config?.keys.rotating?.limits).toEqual({ dailyUsd: 1, rpm: 30 });
  });

  it('resolves expires to the first millisecond after that day ends in server.timezone', () => {
    // Berlin is on summer time (UTC+2) on 2027-03-31, so the day ends at 22:00 UTC.
    expect(load(text).config?.keys['cursor-dev']).toMatchObject({
      expires: '2027-03-31',
      expiresAt: Date.UTC(2027, 2, 31, 22),
    });
  });

  it('turns a hash or a list of hashes into hashes and applies key defaults', () => {
    const keys = load(text).config?.keys;
    expect(keys?.['cursor-dev']).toMatchObject({ hashes: [HASH_A], disabled: false, notify: [], tags: {} });
    expect(keys?.rotating).toMatchObject({ hashes: [HASH_B, HASH_C], disabled: true, tags: { env: 'dev' } });
    expect(keys?.rotating?.models).toBeUndefined();
  });

  it('keeps environment references as variable names and fills upstream and model defaults', () => {
    const config = load(text).config;
    expect(config?.upstreams.openai).toEqual({
      name: 'openai',
      baseUrl: 'https://api.openai.com/v1',
      apiKeyEnv: 'OPENAI_API_KEY',
      timeoutMs: 600000,
      format: 'openai',
      provider: 'openai',
    });
    expect(config?.upstreams.anthropic).toMatchObject({ timeoutMs: 1000, format: 'anthropic' });
    expect(config?.models['gpt-4o-mini']).toMatchObject({
      cachedInputPerMtok: 0.075,
      maxOutputTokens: 16384,
    });
    expect(config?.models['claude-sonnet-4-5']).toMatchObject({
      cachedInputPerMtok: 0.3,
      maxOutputTokens: 64000,
    });
  });

  it('fills the server and slack defaults', () => {
    const config = load(text).config;
    expect(config?.server).toEqual({ timezone: 'Europe/Berlin' });
    expect(config?.slack).toEqual({
      channel: 'C0123ABCD',
      digest: '0 9 * * *',
      admins: [],
      alerts: {
        budgetThresholds: [0.8, 1.0],
        spikeFactor: 5,
        spikeMinUsd: 1,
        spikeAction: 'alert',
        expiryDays: [7, 1],
      },
    });
    expect(load(baseConfig(`  a:\n    hash: sha256:${'d'.repeat(64)}\n`)).config?.server.timezone).toBe(
      'UTC',
    );
  });

  it('indexes every hash of every key, rotation lists included', () => {
    const index = buildKeyIndex(load(text).config!);
    expect(index.get(HASH_A)?.name).toBe('cursor-dev');
    expect(index.get(HASH_B)?.name).toBe('rotating');
    expect(index.get(HASH_C)?.name).toBe('rotating');
    expect(index.size).toBe(3);
  });
});

describe('loadConfig problems, each with its line and column', () => {
  it('reports a YAML syntax error where it is', () => {
    const text = baseConfig(`  cursor-dev:\n    hash: ${HASH_A}\n    limits: daily_usd: 5\n`);
    expectOneError(
      text,
      'daily_usd: 5',
      /^YAML syntax error: Nested mappings are not allowed in compact mappings/,
    );
  });

  it('reports a tab used as indentation', () => {
    const text = baseConfig(`  cursor-dev:\n\thash: ${HASH_A}\n`);
    expectOneError(text, '\thash', /^YAML syntax error: Tabs are not allowed as indentation/);
  });

  it('points an unknown field like daly_usd at the field itself and suggests the right name', () => {
    const text = baseConfig(`  cursor-dev:\n    hash: ${HASH_A}\n    limits:\n      daly_usd: 5\n`);
    const p = expectOneError(
      text,
      'daly_usd',
      /unknown field 'daly_usd' in keys\.cursor-dev\.limits: did you mean 'daily_usd'\?/,
    );
    expect(p.path).toBe('keys.cursor-dev.limits.daly_usd');
  });

  it('reports an unknown top-level section', () => {
    expectOneError(
      baseConfig(`  a:\n    hash: ${HASH_A}\n`, 'limits:\n  rpm: 3\n'),
      'limits:\n  rpm',
      /unknown field 'limits'/,
    );
  });

  it('reports a wrong type at the value', () => {
    const text = baseConfig(`  cursor-dev:\n    hash: ${HASH_A}\n    limits:\n      rpm: "60"\n`);
    expectOneError(text, '"60"', /keys\.cursor-dev\.limits\.rpm must be an integer, not a string/);
  });

  it('reads the spike rule, the circuit breaker and the expiry reminders from slack.alerts', () => {
    const alerts =
      'slack:\n  alerts:\n    spike_factor: 3\n    spike_min_usd: 0.25\n    spike_action: disable\n    expiry_days: [14, 3, 1]\n';
    const config = load(baseConfig(`  a:\n    hash: ${HASH_A}\n`, alerts)).config;
    expect(config?.slack?.alerts).toEqual({
      budgetThresholds: [0.8, 1.0],
      spikeFactor: 3,
      spikeMinUsd: 0.25,
      spikeAction: 'disable',
      expiryDays: [14, 3, 1],
    });
  });

  it('reports a spike_action other than alert or disable, and a spike_factor below 1, at the value', () => {
    const keys = `  a:\n    hash: ${HASH_A}\n`;
    expectOneError(
      baseConfig(keys, 'slack:\n  alerts:\n    spike_action: pause\n'),
      'pause',
      /slack\.alerts\.spike_action/,
    );
    expectOneError(
      baseConfig(keys, 'slack:\n  alerts:\n    spike_factor: 0.5\n'),
      '0.5',
      /slack\.alerts\.spike_factor/,
    );
    expectOneError(
      baseConfig(keys, 'slack:\n  alerts:\n    expiry_days: [7, 0]\n'),
      '0]',
      /slack\.alerts\.expiry_days/,
    );
  });

  it('warns at spike_action: disable when no channel would announce the breaker and no admin could lift it', () => {
    const keys = `  a:\n    hash: ${HASH_A}\n`;
    const text = baseConfig(keys, 'slack:\n  alerts:\n    spike_action: disable\n');
    const result = load(text);
    expect(result.config).toBeDefined();
    expect(result.warnings.map((w) => w.message)).toEqual([
      expect.stringContaining('slack.channel is not set'),
      expect.stringContaining('slack.admins is empty'),
    ]);
    for (const w of result.warnings) expect(w).toMatchObject(positionOf(text, 'disable'));
    const fine = load(
      baseConfig(keys, 'slack:\n  channel: C1\n  admins: [U1]\n  alerts:\n    spike_action: disable\n'),
    );
    expect(fine.warnings).toEqual([]);
  });

  it('reports a bad key name at the name', () => {
    const text = baseConfig(`  Cursor_Dev:\n    hash: ${HASH_A}\n`);
    expectOneError(text, 'Cursor_Dev', /key name 'Cursor_Dev' is invalid: use 1 to 63 lowercase letters/);
  });

  it('reports a key name used twice at the second one, naming the line of the first', () => {
    const text = baseConfig(`  cursor-dev:\n    hash: ${HASH_A}\n  cursor-dev:\n    hash: ${HASH_B}\n`);
    const first = positionOf(text, 'cursor-dev:').line;
    expectOneError(
      text,
      'cursor-dev:',
      new RegExp(`key name 'cursor-dev' is used twice \\(first on line ${first}\\)`),
      2,
    );
  });

  it('reports a hash used by two keys at the second use', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n  two:\n    hash: [${HASH_B}, ${HASH_A}]\n`);
    const p = expectOneError(text, HASH_A, /key 'two' has the same hash as key 'one'/, 2);
    expect(p.path).toBe('keys.two.hash[1]');
  });

  it('reports a single hash used by two keys at the second key’s hash', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n  two:\n    hash: ${HASH_A}\n`);
    const p = expectOneError(text, HASH_A, /key 'two' has the same hash as key 'one'/, 2);
    expect(p.path).toBe('keys.two.hash');
  });

  it('reports a hash listed twice in one key', () => {
    const text = baseConfig(`  one:\n    hash: [${HASH_A}, ${HASH_A}]\n`);
    expectOneError(text, HASH_A, /key 'one' lists the same hash twice/, 2);
  });

  it('reports a hash that is not sha256:<64 hex> without echoing it', () => {
    const text = baseConfig('  one:\n    hash: sha256:abc123\n');
    const p = expectOneError(text, 'sha256:abc123', /keys\.one\.hash must be sha256:<64 lowercase hex>/);
    expect(p.message).not.toContain('abc123');
  });

  it('reports a hash of the wrong type once, naming both accepted shapes', () => {
    expectOneError(
      baseConfig('  one:\n    hash: 12\n'),
      '12',
      /keys\.one\.hash must be a string or a list, not an integer/,
    );
  });

  it('reports a missing required field at the entry that lacks it', () => {
    expectOneError(
      baseConfig('  one:\n    owner: alice\n'),
      'one:',
      /keys\.one is missing the required field 'hash'/,
    );
  });

  it('reports a version other than 1', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n`).replace('version: 1', 'version: 2');
    expectOneError(text, '2', /version must be 1/);
  });

  it('reports a model whose upstream does not exist, suggesting the closest', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n`).replace('upstream: openai', 'upstream: opneai');
    expectOneError(
      text,
      'opneai',
      /model 'gpt-4o-mini' uses upstream 'opneai', which is not defined under upstreams: did you mean 'openai'\?/,
    );
  });

  it('reports an allow-list entry that matches no configured model, and accepts globs that match', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n    models: ["gpt-*", gpt-4o-mini, claude-*]\n`);
    expectOneError(text, 'claude-*', /'claude-\*' in the models of key 'one' matches no configured model/);
  });

  it('reports a literal api_key, telling to use an environment reference and rotate', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n`).replace(`\${OPENAI_API_KEY}`, 'sk-proj-abcdef');
    const p = expectOneError(
      text,
      'sk-proj-abcdef',
      /upstreams\.openai\.api_key is a literal key: it must be an environment reference like \$\{OPENAI_API_KEY\}.*rotate/,
    );
    expect(p.message).not.toContain('sk-proj');
  });

  it('reports a plaintext tgk_ key anywhere, even in a comment, as leaked, without repeating it', () => {
    const key = mintKey();
    const text = baseConfig(`  one:\n    hash: ${HASH_A}   # the key is ${key}\n`);
    const p = expectOneError(
      text,
      key,
      /plaintext tollgate key \(tgk_.{2}….{4}\) is in this file: it has leaked and must be rotated/,
    );
    expect(p.message).not.toContain(key);
  });

  it('reports a leaked key even when the file does not parse', () => {
    const key = mintKey();
    const text = `version: 1\nkeys: {\n  # ${key}\n`;
    const result = load(text);
    expect(result.errors.some((e) => /leaked/.test(e.message) && e.line === 3 && e.col === 5)).toBe(true);
  });

  it('warns about an expiry in the past and still returns the config', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n    expires: 2026-05-31\n`);
    const result = load(text);
    expect(result.errors).toEqual([]);
    expect(result.config).toBeDefined();
    const w = only(result.warnings);
    expect(w).toMatchObject({ severity: 'warning', ...positionOf(text, '2026-05-31') });
    expect(w.message).toMatch(/key 'one' expired at the end of 2026-05-31 \(UTC\)/);
  });

  it('does not warn about an expiry that ends later today', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n    expires: 2026-06-01\n`);
    expect(load(text).warnings).toEqual([]);
  });

  it('warns about keys with no expiry or one beyond defaults.max_expiry_days', () => {
    const text = baseConfig(
      `  forever:\n    hash: ${HASH_A}\n  far:\n    hash: ${HASH_B}\n    expires: 2026-12-31\n  near:\n    hash: ${HASH_C}\n    expires: 2026-08-01\n`,
      'defaults:\n  max_expiry_days: 90\n',
    );
    const result = load(text);
    expect(result.errors).toEqual([]);
    expect(result.warnings).toHaveLength(2);
    expect(result.warnings[0]).toMatchObject(positionOf(text, 'forever:'));
    expect(result.warnings[0]?.message).toMatch(/key 'forever' never expires/);
    expect(result.warnings[1]).toMatchObject(positionOf(text, '2026-12-31'));
    expect(result.warnings[1]?.message).toMatch(/more than max_expiry_days \(90\)/);
  });

  it('reports an expiry that is not a real date', () => {
    expectOneError(
      baseConfig(`  one:\n    hash: ${HASH_A}\n    expires: 2027-02-30\n`),
      '2027-02-30',
      /is not a real calendar date/,
    );
  });

  it('reports an expiry that is not written YYYY-MM-DD', () => {
    expectOneError(
      baseConfig(`  one:\n    hash: ${HASH_A}\n    expires: 31.03.2027\n`),
      '31.03.2027',
      /must be a date written YYYY-MM-DD/,
    );
  });

  it('reports an unknown timezone', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n`, 'server:\n  timezone: Europe/Berlinn\n');
    expectOneError(text, 'Europe/Berlinn', /server\.timezone 'Europe\/Berlinn' is not an IANA timezone name/);
  });

  it('reports a digest that is not a cron expression', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n`, 'slack:\n  digest: every morning\n');
    expectOneError(text, 'every morning', /slack\.digest 'every morning' is not a cron expression/);
  });

  it('reports every problem of a file at once, sorted by position', () => {
    const text = baseConfig(
      `  Bad:\n    hash: ${HASH_A}\n  good:\n    hash: nope\n    limits: { daly_usd: 1 }\n`,
    );
    const lines = load(text).errors.map((e) => e.line);
    expect(lines).toHaveLength(3);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
  });

  it('reports an empty or comments-only file in one sentence that says what it needs', () => {
    for (const text of ['', '# nothing yet\n']) {
      const problem = only(load(text).errors);
      expect(problem).toMatchObject({ line: 1, col: 1 });
      expect(problem.message).toBe('the file is empty: it needs at least `version: 1`');
    }
  });
});

describe('loadConfig rules on a file with schema errors', () => {
  it('reports the semantic rules over the parts that passed the schema in the same run', () => {
    const text = baseConfig(
      `  typo:\n    hash: ${HASH_A}\n    limits: { daly_usd: 1 }\n` +
        `  one:\n    hash: ${HASH_B}\n    models: [gpt-5]\n  two:\n    hash: ${HASH_B}\n`,
      'server:\n  timezone: Europe/Berlinn\n',
    ).replace('upstream: openai\n    input_per_mtok: 2.5', 'upstream: opena\n    input_per_mtok: 2.5');
    const result = load(text);
    expect(result.config).toBeUndefined();
    const messages = result.errors.map((e) => e.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/unknown field 'daly_usd'/),
        expect.stringMatching(/server\.timezone 'Europe\/Berlinn' is not an IANA timezone name/),
        expect.stringMatching(/model 'gpt-4o' uses upstream 'opena'/),
        expect.stringMatching(/key 'two' has the same hash as key 'one'/),
        expect.stringMatching(/'gpt-5' in the models of key 'one' matches no configured model/),
      ]),
    );
    expect(messages).toHaveLength(5);
    const dup = result.errors.find((e) => e.message.includes("key 'two'"));
    expect(dup).toMatchObject(positionOf(text, HASH_B, 2));
  });

  it('does not call an upstream or model unknown when its own entry failed the schema', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n    models: [gpt-4o]\n`)
      .replace('    base_url: https://api.openai.com/v1\n', '')
      .replace('input_per_mtok: 2.5', 'input_per_mtok: cheap');
    const messages = load(text).errors.map((e) => e.message);
    expect(messages).toHaveLength(2);
    expect(messages.join('\n')).toMatch(/missing the required field 'base_url'/);
    expect(messages.join('\n')).toMatch(/input_per_mtok must be a number/);
  });

  it('runs no rules when the file is not a map at all', () => {
    expect(load('- version: 1\n').errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/must be a map/),
    ]);
  });
});

describe('contentRevision', () => {
  it('is the first 12 hex characters of the sha256 of the text', () => {
    expect(contentRevision('abc')).toBe('ba7816bf8f01');
    expect(contentRevision('abd')).not.toBe(contentRevision('abc'));
  });
});

describe('loadConfig robustness', () => {
  it('refuses a file of nested aliases ("billion laughs") instead of expanding it', () => {
    const lines = ['version: 1', 'l0: &l0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++)
      lines.push(
        `l${i}: &l${i} [${Array(10)
          .fill(`*l${i - 1}`)
          .join(', ')}]`,
      );
    const result = load(`${lines.join('\n')}\n`);
    expect(result.config).toBeUndefined();
    expect(result.errors[0]?.message).toMatch(/alias/i);
  });

  it('accepts an alias used a few times, as in a shared limits block', () => {
    const text = baseConfig(
      `  a:\n    hash: ${HASH_A}\n    limits: &small { daily_usd: 1 }\n  b:\n    hash: ${HASH_B}\n    limits: *small\n`,
    );
    const result = load(text);
    expect(result.errors).toEqual([]);
    expect(result.config?.keys.b?.limits.dailyUsd).toBe(1);
  });

  it('never throws and never returns a config with errors, whatever is cut out of a valid file', () => {
    const text = readFileSync(new URL('../../../config/keys.yaml', import.meta.url), 'utf8');
    fc.assert(
      fc.property(
        fc.nat({ max: text.length - 1 }),
        fc.integer({ min: 1, max: 40 }),
        fc.string({ maxLength: 3 }),
        (at, len, insert) => {
          const mutated = text.slice(0, at) + insert + text.slice(at + len);
          const result = loadConfig(mutated, { file: 'm.yaml', now: NOW });
          if (result.config) expect(result.errors).toEqual([]);
          else expect(result.errors.length).toBeGreaterThan(0);
          for (const p of [...result.errors, ...result.warnings]) {
            expect(p.line).toBeGreaterThanOrEqual(1);
            expect(p.col).toBeGreaterThanOrEqual(1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('loadConfig secrecy and allow-lists', () => {
  it('masks a key pasted as a key name in every message and path', () => {
    const key = mintKey();
    const result = load(baseConfig(`  ${key}:\n    hash: ${HASH_A}\n`));
    expect(result.errors.length).toBeGreaterThan(0);
    for (const p of result.errors) {
      expect(p.message).not.toContain(key);
      expect(p.path).not.toContain(key);
    }
  });

  it('warns about an empty models list, which allows no model', () => {
    const text = baseConfig(`  one:\n    hash: ${HASH_A}\n    models: []\n`);
    const result = load(text);
    expect(result.errors).toEqual([]);
    expect(only(result.warnings)).toMatchObject({ ...positionOf(text, '[]'), path: 'keys.one.models' });
    expect(result.warnings[0]?.message).toMatch(/empty models list, so it may use no model/);
  });
});

describe('loadConfig without the fast parser', () => {
  it('finds the same problems at the same places through the position-aware yaml parser', () => {
    // An anchor sends the file down the precise path (the one used when js-yaml is missing).
    const body = (anchor: string) =>
      baseConfig(
        `  one:\n    hash: ${HASH_A}\n    description: ${anchor}shared\n    limits: { daily_usd: 1 }\n  two:\n    hash: ${HASH_A}\n    models: [gpt-5]\n    expires: 2020-01-01\n`,
      ).replace('upstream: openai', 'upstream: opneai');
    const fast = load(body(''));
    const precise = load(body('&d '));
    expect(fast.errors.map((e) => e.path)).toEqual([
      'models.gpt-4o-mini.upstream',
      'keys.two.hash',
      'keys.two.models[0]',
    ]);
    expect(fast.warnings).toHaveLength(1);
    expect(precise.errors).toEqual(fast.errors);
    expect(precise.warnings).toEqual(fast.warnings);
  });
});

describe('names that are also Object.prototype properties', () => {
  const H = `sha256:${'a'.repeat(64)}`;
  const text = `version: 1
upstreams:
  __proto__: { base_url: "http://127.0.0.1:9/v1", api_key: "\${X}" }
models:
  constructor: { upstream: __proto__, input_per_mtok: 1, output_per_mtok: 1 }
  __proto__: { upstream: __proto__, input_per_mtok: 1, output_per_mtok: 1 }
  toString: { upstream: __proto__, input_per_mtok: 1, output_per_mtok: 1 }
keys:
  constructor: { hash: "${H}" }
`;

  it('are ordinary entries: none is lost, none replaces a prototype', () => {
    const { config, errors } = loadConfig(text, { file: 'keys.yaml', now: 0 });
    expect(errors).toEqual([]);
    expect(Object.keys(config?.upstreams ?? {})).toEqual(['__proto__']);
    expect(Object.keys(config?.models ?? {})).toEqual(['constructor', '__proto__', 'toString']);
    expect(Object.getPrototypeOf(config?.models)).toBeNull();
    expect(Object.entries(config?.keys ?? {}).map(([n, k]) => [n, k.hashes])).toEqual([['constructor', [H]]]);
  });

  it('reports a model whose upstream is named like a prototype property but not defined, with line:col', () => {
    const broken = text.replace('constructor: { upstream: __proto__', 'constructor: { upstream: toString');
    const { errors } = loadConfig(broken, { file: 'keys.yaml', now: 0 });
    expect(errors.map((e) => `${e.line}:${e.col} ${e.message}`)).toEqual([
      expect.stringMatching(/^5:\d+ model 'constructor' uses upstream 'toString', which is not defined/),
    ]);
  });

  it('diffs a key named constructor as added, not as a change of an existing one', () => {
    const before = loadConfig(text.replace(/keys:[\s\S]*/, 'keys: {}\n'), { file: 'a', now: 0 }).config;
    const after = loadConfig(text, { file: 'b', now: 0 }).config;
    if (!before || !after) throw new Error('fixtures must load');
    const changes = diffConfigs(before, after);
    expect(changes.filter((c) => c.subject === 'constructor').map((c) => c.kind)).toEqual(['key-added']);
  });
});
