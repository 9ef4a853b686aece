import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keys } from '../../../src/commands/keys.js';
import { checkKeyFormat, hashKey, mintKey } from '../../../src/keys/format.js';
import { fakeIO } from './fake-io.js';

const KEY_IN_TEXT = /\btgk_[0-9A-Za-z]{38}\b/g;

function configWith(hash: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-keys-'));
  writeFileSync(join(dir, 'keys.yaml'), `version: 1\nkeys:\n  cursor-dev:\n    hash: ${hash}\n`);
  return dir;
}

describe('tollgate keys new', () => {
  it('prints a new well-formed key once and the YAML stanza with its hash', async () => {
    const run = fakeIO();
    expect(await keys(['new', 'cursor-dev'], run.io)).toBe(0);
    const out = run.stdout();
    const found = out.match(KEY_IN_TEXT) ?? [];
    expect(found).toHaveLength(1);
    const key = found[0] as string;
    expect(checkKeyFormat(key)).toBe(true);
    expect(out).toContain(`  cursor-dev:\n    hash: ${hashKey(key)}\n    description: TODO`);
    expect(out).toMatch(/shown only this once/);
  });

  it('prints only {"name","key","hash"} with --json', async () => {
    const run = fakeIO();
    expect(await keys(['new', 'backend-production', '--json'], run.io)).toBe(0);
    const parsed = JSON.parse(run.stdout());
    expect(Object.keys(parsed)).toEqual(['name', 'key', 'hash']);
    expect(parsed.name).toBe('backend-production');
    expect(checkKeyFormat(parsed.key)).toBe(true);
    expect(parsed.hash).toBe(hashKey(parsed.key));
  });

  it('writes nothing to disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-keys-new-'));
    const run = fakeIO({ cwd: dir });
    await keys(['new', 'a'], run.io);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses an invalid key name with exit 2', async () => {
    const run = fakeIO();
    expect(await keys(['new', 'Cursor Dev'], run.io)).toBe(2);
    expect(run.stderr()).toMatch(/^tollgate keys: 'Cursor Dev' is not a valid key name/);
    expect(run.stdout()).toBe('');
  });

  it('refuses a missing name with exit 2', async () => {
    const run = fakeIO();
    expect(await keys(['new'], run.io)).toBe(2);
    expect(run.stderr()).toMatch(/takes one NAME/);
  });
});

describe('tollgate keys hash', () => {
  it('prints sha256 of the key given as an argument', async () => {
    const key = mintKey();
    const run = fakeIO();
    expect(await keys(['hash', key], run.io)).toBe(0);
    expect(run.stdout()).toBe(`${hashKey(key)}\n`);
    expect(run.stderr()).toBe('');
  });

  it('reads the key from stdin for -, ignoring the trailing newline', async () => {
    const key = mintKey();
    const run = fakeIO({ stdin: `${key}\n` });
    expect(await keys(['hash', '-'], run.io)).toBe(0);
    expect(run.stdout()).toBe(`${hashKey(key)}\n`);
  });

  it('still hashes a malformed key but warns about it without printing it', async () => {
    const run = fakeIO();
    expect(await keys(['hash', 'sk-not-a-tollgate-key-at-all'], run.io)).toBe(0);
    expect(run.stdout()).toBe(`${hashKey('sk-not-a-tollgate-key-at-all')}\n`);
    expect(run.stderr()).toMatch(/warning: .* is not a well-formed tollgate key/);
    expect(run.stderr()).not.toContain('sk-not-a-tollgate-key-at-all');
  });

  it('refuses a missing key with exit 2', async () => {
    const run = fakeIO();
    expect(await keys(['hash'], run.io)).toBe(2);
  });
});

describe('tollgate keys check', () => {
  it('says a well-formed key belongs to its key name in the config', async () => {
    const key = mintKey();
    const dir = configWith(hashKey(key));
    const run = fakeIO({ cwd: dir });
    expect(await keys(['check', key, '--config', 'keys.yaml'], run.io)).toBe(0);
    expect(run.stdout()).toBe(
      `${key.slice(0, 6)}…${key.slice(-4)} is well-formed and belongs to key 'cursor-dev' in keys.yaml.\n`,
    );
    expect(run.stdout()).not.toContain(key);
  });

  it('says a well-formed key belongs to no key', async () => {
    const dir = configWith(hashKey(mintKey()));
    const run = fakeIO({ cwd: dir });
    expect(await keys(['check', mintKey(), '--config', 'keys.yaml'], run.io)).toBe(0);
    expect(run.stdout()).toMatch(/is well-formed but belongs to no key in keys\.yaml/);
  });

  it('fails with exit 1 when one character of a key is changed', async () => {
    const key = mintKey();
    const pos = 10;
    const changed = key.slice(0, pos) + (key[pos] === 'a' ? 'b' : 'a') + key.slice(pos + 1);
    const run = fakeIO({ cwd: configWith(hashKey(key)) });
    expect(await keys(['check', changed, '--config', 'keys.yaml'], run.io)).toBe(1);
    expect(run.stdout()).toMatch(/is not a well-formed tollgate key: its checksum does not match/);
  });

  it('fails with exit 1 on something that is not a tollgate key at all', async () => {
    const run = fakeIO();
    expect(await keys(['check', 'sk-proj-123'], run.io)).toBe(1);
    expect(run.stdout()).toMatch(/it is not tgk_ followed by 38 letters and digits/);
  });

  it('reads the key from stdin and the config from $TOLLGATE_CONFIG', async () => {
    const key = mintKey();
    const dir = configWith(hashKey(key));
    const run = fakeIO({ cwd: dir, stdin: `${key}\n`, env: { TOLLGATE_CONFIG: 'keys.yaml' } });
    expect(await keys(['check', '-'], run.io)).toBe(0);
    expect(run.stdout()).toMatch(/belongs to key 'cursor-dev'/);
  });

  it('accepts --config and --store like every command that reads the config', async () => {
    const key = mintKey();
    const dir = configWith(hashKey(key));
    const run = fakeIO({ cwd: dir });
    expect(await keys(['check', key, '--config', 'keys.yaml', '--store', 'sqlite:unused.db'], run.io)).toBe(
      0,
    );
    expect(run.stdout()).toMatch(/belongs to key 'cursor-dev' in keys\.yaml/);
    expect(run.stderr()).toBe('');
    expect(readdirSync(dir)).toEqual(['keys.yaml']);
  });

  it('still says whether the key is well-formed when the config cannot be read', async () => {
    const run = fakeIO({ cwd: mkdtempSync(join(tmpdir(), 'tollgate-empty-')) });
    expect(await keys(['check', mintKey()], run.io)).toBe(0);
    expect(run.stdout()).toMatch(/is well-formed \(prefix and checksum match\)/);
    expect(run.stderr()).toMatch(/could not read config\/keys\.yaml/);
  });
});

describe('tollgate keys rotate', () => {
  const OLD = hashKey(mintKey());

  function rotateIn(yaml: string) {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-rotate-'));
    writeFileSync(join(dir, 'keys.yaml'), yaml);
    return dir;
  }

  it('prints a new key once and the keys.yaml change listing its hash beside the old one, then how to drop the old one', async () => {
    const dir = rotateIn(
      `version: 1\nkeys:\n  other:\n    hash: ${hashKey(mintKey())}\n  cursor-dev:\n    owner: alice\n    hash: ${OLD}\n`,
    );
    const run = fakeIO({ cwd: dir });
    expect(await keys(['rotate', 'cursor-dev', '--config', 'keys.yaml'], run.io)).toBe(0);
    const out = run.stdout();
    const found = out.match(KEY_IN_TEXT) ?? [];
    expect(found).toHaveLength(1);
    const key = found[0] as string;
    expect(checkKeyFormat(key)).toBe(true);
    const NEW = hashKey(key);
    expect(out).toContain(
      `  cursor-dev:\n    hash:\n      - ${OLD}   # old: drop once unused\n      - ${NEW}   # new\n`,
    );
    expect(out).toContain('(line 7)');
    expect(out).toContain(
      `tollgate usage --key cursor-dev --by hash --since 7d\` shows no more requests for ${OLD.slice(7, 19)}`,
    );
    expect(out).toContain(`  cursor-dev:\n    hash: ${NEW}\n`);
    expect(out).toMatch(/shown only this once/);
    expect(readdirSync(dir)).toEqual(['keys.yaml']);
    expect(run.stderr()).toBe('');
  });

  it('adds to a list of hashes while an earlier rotation is still going on, and prints JSON with --json', async () => {
    const older = hashKey(mintKey());
    const dir = rotateIn(`version: 1\nkeys:\n  ci:\n    hash:\n      - ${older}\n      - ${OLD}\n`);
    const run = fakeIO({ cwd: dir, env: { TOLLGATE_CONFIG: 'keys.yaml' } });
    expect(await keys(['rotate', 'ci', '--json'], run.io)).toBe(0);
    const parsed = JSON.parse(run.stdout());
    expect(Object.keys(parsed)).toEqual(['name', 'key', 'hash', 'hashes']);
    expect(parsed.hash).toBe(hashKey(parsed.key));
    expect(parsed.hashes).toEqual([older, OLD, parsed.hash]);
  });

  it('rotates a key even when the file fails validation, as one with a leaked plaintext key does', async () => {
    const dir = rotateIn(`version: 1\n# oops: ${mintKey()}\nkeys:\n  leaked:\n    hash: ${OLD}\n`);
    const run = fakeIO({ cwd: dir });
    expect(await keys(['rotate', 'leaked', '--config', 'keys.yaml'], run.io)).toBe(0);
    expect(run.stdout()).toContain(`      - ${OLD}   # old`);
  });

  it('refuses an unknown name with a suggestion, and a missing config, without minting anything', async () => {
    const dir = rotateIn(`version: 1\nkeys:\n  cursor-dev:\n    hash: ${OLD}\n`);
    const run = fakeIO({ cwd: dir });
    expect(await keys(['rotate', 'cursor-dve', '--config', 'keys.yaml'], run.io)).toBe(1);
    expect(run.stderr()).toBe(
      "tollgate keys: cannot rotate 'cursor-dve' in keys.yaml: it has no key named 'cursor-dve'; did you mean 'cursor-dev'?\n",
    );
    expect(run.stdout()).toBe('');
    const missing = fakeIO({ cwd: dir });
    expect(await keys(['rotate', 'cursor-dev', '--config', 'nope.yaml'], missing.io)).toBe(2);
    expect(missing.stderr()).toMatch(/^tollgate keys: could not read nope\.yaml/);
    expect(missing.stdout()).toBe('');
  });
});

describe('tollgate keys', () => {
  it('refuses an unknown subcommand with exit 2', async () => {
    const run = fakeIO();
    expect(await keys(['revoke'], run.io)).toBe(2);
    expect(run.stderr()).toBe(
      "tollgate keys: unknown subcommand 'revoke': use new, rotate, hash or check.\n",
    );
  });

  it("refuses an unknown option in one sentence, without Node's hint about --", async () => {
    const run = fakeIO();
    expect(await keys(['check', 'x', '--stor', 'y'], run.io)).toBe(2);
    expect(run.stderr()).toBe("tollgate keys: Unknown option '--stor'. Run 'tollgate keys --help'.\n");
  });

  it('prints help with --help', async () => {
    const run = fakeIO();
    expect(await keys(['--help'], run.io)).toBe(0);
    expect(run.stdout()).toMatch(/^Usage: tollgate keys new NAME/);
  });
});
