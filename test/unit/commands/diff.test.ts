import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diff } from '../../../src/commands/diff.js';
import { fakeIO } from './fake-io.js';

const BASE = 'test/fixtures/config/valid.yaml';
const HEAD = 'test/fixtures/config/diff-head.yaml';

describe('tollgate diff', () => {
  it('prints a markdown summary by default: rename, raised limit and widened models', async () => {
    const run = fakeIO();
    expect(await diff([BASE, HEAD], run.io)).toBe(0);
    const md = run.stdout();
    expect(md).toContain('- ⚠ `cursor-dev`: daily_usd raised $5 → $10 (+100%)');
    expect(md).toContain('- ⚠ `cursor-dev`: models widened: +gpt-4o (now allows gpt-4o)');
    expect(md).toContain('- ✏️ `backend-staging-eu`: renamed from backend-staging');
  });

  it('counts in its headline exactly the lines it marks ⚠, and the added and renamed keys apart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-diff-'));
    const head = readFileSync(HEAD, 'utf8');
    writeFileSync(
      join(dir, 'new.yaml'),
      `${head.replace('rpm: 30', 'rpm: 60')}  new-bot:\n    hash: sha256:${'3'.repeat(64)}\n`,
    );
    const run = fakeIO();
    expect(await diff([BASE, join(dir, 'new.yaml'), '--format', 'text'], run.io)).toBe(0);
    const [headline, ...body] = run.stdout().split('\n');
    const warned = body.filter((l) => l.trimStart().startsWith('⚠')).length;
    expect(warned).toBeGreaterThan(1);
    expect(headline).toContain(`⚠ ${warned} widen access or spend`);
    expect(headline).toContain('➕ 1 key added');
    expect(headline).toContain('✏️ 1 key renamed');
  });

  it("never prints a database password from server.store (the diff goes to pull requests and Slack's reload alert)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-diff-'));
    const base = readFileSync(BASE, 'utf8');
    const withStore = (store: string) =>
      base.replace('version: 1\n', `version: 1\nserver:\n  store: ${store}\n`);
    writeFileSync(join(dir, 'old.yaml'), withStore('postgres://tollgate:old-pw-1234@db1:5432/tollgate'));
    writeFileSync(
      join(dir, 'new.yaml'),
      withStore('postgresql://db2:5432/tollgate?user=tollgate&password=new-pw-5678'),
    );
    for (const format of ['markdown', 'text']) {
      const run = fakeIO();
      expect(await diff([join(dir, 'old.yaml'), join(dir, 'new.yaml'), '--format', format], run.io)).toBe(0);
      expect(run.stdout()).toContain('store');
      expect(run.stdout()).toContain('db2:5432');
      expect(run.stdout()).not.toContain('old-pw-1234');
      expect(run.stdout()).not.toContain('new-pw-5678');
    }
  });

  it("refuses an unknown option in one sentence, without Node's hint about --", async () => {
    const run = fakeIO();
    expect(await diff([BASE, HEAD, '--formt', 'text'], run.io)).toBe(2);
    expect(run.stderr()).toBe("tollgate diff: Unknown option '--formt'. Run 'tollgate diff --help'.\n");
  });

  it('prints plain text with --format text', async () => {
    const run = fakeIO();
    expect(await diff([BASE, HEAD, '--format', 'text'], run.io)).toBe(0);
    expect(run.stdout()).toContain('  ⚠ cursor-dev: daily_usd raised $5 → $10 (+100%)');
  });

  it('says there is nothing to report for the same file', async () => {
    const run = fakeIO();
    expect(await diff([BASE, BASE], run.io)).toBe(0);
    expect(run.stdout()).toBe('No changes to keys, limits, models or upstreams.\n');
  });

  it('exits 1 when a file is invalid, naming the first error', async () => {
    const run = fakeIO();
    expect(await diff([BASE, 'test/fixtures/config/typo.yaml'], run.io)).toBe(1);
    expect(run.stderr()).toMatch(
      /^tollgate diff: test\/fixtures\/config\/typo\.yaml is invalid \(first error at .*typo\.yaml:12:7: unknown field 'daly_usd'/,
    );
    expect(run.stdout()).toBe('');
  });

  it('exits 2 when a file cannot be read', async () => {
    const run = fakeIO();
    expect(await diff(['missing.yaml', HEAD], run.io)).toBe(2);
    expect(run.stderr()).toBe('tollgate diff: cannot read missing.yaml: no such file.\n');
  });

  it('exits 2 without two files or with an unknown format', async () => {
    const one = fakeIO();
    expect(await diff([BASE], one.io)).toBe(2);
    expect(one.stderr()).toMatch(/give two files/);
    const bad = fakeIO();
    expect(await diff([BASE, HEAD, '--format', 'html'], bad.io)).toBe(2);
    expect(bad.stderr()).toBe("tollgate diff: --format must be markdown or text; got 'html'.\n");
  });

  it('prints help with --help', async () => {
    const run = fakeIO();
    expect(await diff(['--help'], run.io)).toBe(0);
    expect(run.stdout()).toMatch(/^Usage: tollgate diff OLD NEW/);
  });
});
