import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validate } from '../../../src/commands/validate.js';
import { fakeIO } from './fake-io.js';

const FIXTURES = 'test/fixtures/config';

describe('tollgate validate', () => {
  it('exits 0 on the example config/keys.yaml, which it validates by default', async () => {
    const run = fakeIO();
    expect(await validate([], run.io)).toBe(0);
    expect(run.stdout()).toMatch(/^config\/keys\.yaml: valid \(5 keys\)/m);
    expect(run.stderr()).toBe('');
  });

  it('names the version of the price catalog that prices the models a file leaves unpriced', async () => {
    const text = fakeIO();
    await validate([], text.io);
    expect(text.stdout()).toMatch(
      /^prices not set in a file come from the catalog @pydantic\/genai-prices 0\.1\.\d+$/m,
    );
    const json = fakeIO();
    await validate(['--format', 'json'], json.io);
    expect(JSON.parse(json.stdout()).catalog).toMatch(/^@pydantic\/genai-prices 0\.1\.\d+$/);
  });

  it('exits 0 on a file with only warnings and prints them as file:line:col: warning: message', async () => {
    const run = fakeIO();
    expect(await validate([`${FIXTURES}/valid.yaml`], run.io)).toBe(0);
    expect(run.stdout()).toContain(
      `${FIXTURES}/valid.yaml:18:14: warning: key 'backend-staging' expired at the end of 2020-01-31 (UTC)`,
    );
    expect(run.stdout()).toContain(`${FIXTURES}/valid.yaml: valid (2 keys) with 1 warning(s)`);
  });

  it('exits 1 on an unknown field and prints file:line:col: error: message pointing at the field', async () => {
    const run = fakeIO();
    expect(await validate([`${FIXTURES}/typo.yaml`], run.io)).toBe(1);
    expect(run.stdout()).toContain(
      `${FIXTURES}/typo.yaml:12:7: error: unknown field 'daly_usd' in keys.cursor-dev.limits: did you mean 'daily_usd'?`,
    );
    expect(run.stdout()).toContain(`${FIXTURES}/typo.yaml: invalid, 1 error(s)`);
  });

  it("exits 1 on a key's unknown group, pointing at it in text and as a GitHub annotation", async () => {
    const file = `${FIXTURES}/unknown-group.yaml`;
    const message =
      "key 'api-staging' is in group 'bakend', which is not defined under groups: did you mean 'backend'?";
    const text = fakeIO();
    expect(await validate([file], text.io)).toBe(1);
    expect(text.stdout()).toContain(`${file}:8:12: error: ${message}`);
    const github = fakeIO();
    expect(await validate([file, '--format', 'github'], github.io)).toBe(1);
    expect(github.stdout().split('\n')).toContain(`::error file=${file},line=8,col=12::${message}`);
  });

  it('exits 1 on a YAML syntax error', async () => {
    // .txt: an intentionally broken YAML file would fail Biome, which also lints YAML.
    const run = fakeIO();
    expect(await validate([`${FIXTURES}/broken-yaml.txt`], run.io)).toBe(1);
    expect(run.stdout()).toMatch(/broken-yaml\.txt:5:13: error: YAML syntax error/);
  });

  it('exits 2 when a file cannot be read, saying so in one sentence on stderr', async () => {
    const run = fakeIO();
    expect(await validate([`${FIXTURES}/valid.yaml`, 'nope/missing.yaml'], run.io)).toBe(2);
    expect(run.stderr()).toBe('tollgate validate: cannot read nope/missing.yaml: no such file.\n');
  });

  it('prints GitHub annotations with --format github', async () => {
    const run = fakeIO();
    expect(
      await validate([`${FIXTURES}/typo.yaml`, `${FIXTURES}/valid.yaml`, '--format', 'github'], run.io),
    ).toBe(1);
    const lines = run.stdout().split('\n');
    expect(lines).toContain(
      `::error file=${FIXTURES}/typo.yaml,line=12,col=7::unknown field 'daly_usd' in keys.cursor-dev.limits: did you mean 'daily_usd'?`,
    );
    expect(lines.some((l) => l.startsWith(`::warning file=${FIXTURES}/valid.yaml,line=18,col=14::`))).toBe(
      true,
    );
  });

  it('escapes newlines and percent signs in GitHub annotations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-validate-'));
    writeFileSync(
      join(dir, 'odd.yaml'),
      `version: 1\nkeys:\n  "50%\\nOFF":\n    hash: sha256:${'1'.repeat(64)}\n`,
    );
    const run = fakeIO({ cwd: dir });
    expect(await validate(['odd.yaml', '--format', 'github'], run.io)).toBe(1);
    expect(run.stdout().split('\n')[0]).toBe(
      "::error file=odd.yaml,line=3,col=3::key name '50%25%0AOFF' is invalid: use 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  });

  it('prints a JSON report with --format json', async () => {
    const run = fakeIO();
    expect(await validate([`${FIXTURES}/typo.yaml`, '--format', 'json'], run.io)).toBe(1);
    const report = JSON.parse(run.stdout());
    expect(report.valid).toBe(false);
    expect(report.files[0]).toMatchObject({ file: `${FIXTURES}/typo.yaml`, valid: false, warnings: [] });
    expect(report.files[0].errors[0]).toMatchObject({
      line: 12,
      col: 7,
      path: 'keys.cursor-dev.limits.daly_usd',
      severity: 'error',
    });
  });

  it('reads $TOLLGATE_CONFIG when no file is given', async () => {
    const run = fakeIO({ env: { TOLLGATE_CONFIG: `${FIXTURES}/typo.yaml` } });
    expect(await validate([], run.io)).toBe(1);
    expect(run.stdout()).toContain('typo.yaml');
  });

  it('resolves files against the working directory it is given', async () => {
    const run = fakeIO({ cwd: new URL('../../fixtures/config/', import.meta.url).pathname });
    expect(await validate(['valid.yaml'], run.io)).toBe(0);
  });

  it('refuses an unknown format with exit 2', async () => {
    const run = fakeIO();
    expect(await validate(['--format', 'xml'], run.io)).toBe(2);
    expect(run.stderr()).toBe("tollgate validate: --format must be one of text, github, json; got 'xml'.\n");
  });

  it("refuses an unknown flag with exit 2 in one sentence, without Node's hint about --", async () => {
    const run = fakeIO();
    expect(await validate(['--strict'], run.io)).toBe(2);
    expect(run.stderr()).toBe(
      "tollgate validate: Unknown option '--strict'. Run 'tollgate validate --help'.\n",
    );
  });

  it('checks the file given with --config as one more file, next to positional files', async () => {
    const run = fakeIO();
    expect(await validate([`${FIXTURES}/valid.yaml`, '--config', `${FIXTURES}/typo.yaml`], run.io)).toBe(1);
    expect(run.stdout()).toContain(`${FIXTURES}/valid.yaml: valid (2 keys)`);
    expect(run.stdout()).toContain(`${FIXTURES}/typo.yaml: invalid, 1 error(s)`);
    const alone = fakeIO();
    expect(await validate(['--config', `${FIXTURES}/valid.yaml`], alone.io)).toBe(0);
    expect(alone.stdout()).toMatch(/^test\/fixtures\/config\/valid\.yaml:18:14: warning/);
  });

  it('reports an unreadable file in text format at file:1:1 like every other problem', async () => {
    const run = fakeIO();
    expect(await validate(['nonexist.yaml'], run.io)).toBe(2);
    expect(run.stdout()).toBe(
      'nonexist.yaml:1:1: error: cannot read nonexist.yaml: no such file\nnonexist.yaml: unreadable\n',
    );
    expect(run.stderr()).toBe('tollgate validate: cannot read nonexist.yaml: no such file.\n');
  });

  it('says an empty file is empty instead of calling it "a undefined"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-validate-'));
    writeFileSync(join(dir, 'empty.yaml'), '');
    const run = fakeIO({ cwd: dir });
    expect(await validate(['empty.yaml'], run.io)).toBe(1);
    expect(run.stdout()).toContain(
      'empty.yaml:1:1: error: the file is empty: it needs at least `version: 1`',
    );
  });

  it('prints help with --help', async () => {
    const run = fakeIO();
    expect(await validate(['--help'], run.io)).toBe(0);
    expect(run.stdout()).toMatch(/^Usage: tollgate validate/);
  });
});

describe('tollgate validate --env', () => {
  const example = 'config/keys.yaml';

  it('needs no secrets without --env', async () => {
    const run = fakeIO({ env: {} });
    expect(await validate([example], run.io)).toBe(0);
  });

  it('exits 1 with file:line:col for every referenced variable that is not set', async () => {
    const run = fakeIO({ env: { OPENAI_API_KEY: 'sk-x' } });
    expect(await validate([example, '--env'], run.io)).toBe(1);
    expect(run.stdout()).toContain(
      `${example}:25:14: error: upstreams.anthropic.api_key names \${ANTHROPIC_API_KEY}, which is not set in the environment where tollgate runs`,
    );
    expect(run.stdout()).not.toContain('OPENAI_API_KEY}, which');
  });

  it('exits 0 when every variable is set', async () => {
    const run = fakeIO({ env: { OPENAI_API_KEY: 'sk-x', ANTHROPIC_API_KEY: 'sk-y' } });
    expect(await validate([example, '--env'], run.io)).toBe(0);
  });
});
