import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digest } from '../../../src/commands/digest.js';
import { fakeIO } from './fake-io.js';

describe('tollgate digest errors', () => {
  it('says the config file does not exist, in one sentence, instead of ENOENT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-digest-'));
    const run = fakeIO({ cwd: dir });
    expect(await digest(['--config', 'nonexist.yaml', '--dry-run'], run.io)).toBe(1);
    expect(run.stderr()).toBe(
      `tollgate digest: the config file ${join(dir, 'nonexist.yaml')} does not exist; pass --config F or set $TOLLGATE_CONFIG.\n`,
    );
    expect(run.stdout()).toBe('');
  });

  it('ends the positional-argument error with a full stop before the help hint', async () => {
    const run = fakeIO();
    expect(await digest(['--dry-run', 'extra'], run.io)).toBe(2);
    expect(run.stderr()).toBe(
      "tollgate digest: Unexpected argument 'extra'. This command does not take positional arguments. Run 'tollgate digest --help'.\n",
    );
  });

  it("refuses an unknown option without Node's hint about --", async () => {
    const run = fakeIO();
    expect(await digest(['--dryrun'], run.io)).toBe(2);
    expect(run.stderr()).toBe("tollgate digest: Unknown option '--dryrun'. Run 'tollgate digest --help'.\n");
  });

  it('refuses a store file that does not exist rather than report a day without traffic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-digest-'));
    writeFileSync(join(dir, 'keys.yaml'), 'version: 1\n');
    const run = fakeIO({ cwd: dir });
    const typo = join(dir, 'typo.db');
    expect(
      await digest(['--config', join(dir, 'keys.yaml'), '--store', `sqlite:${typo}`, '--dry-run'], run.io),
    ).toBe(1);
    expect(run.stderr()).toContain(`there is no SQLite store at ${typo}`);
    expect(existsSync(typo)).toBe(false);
  });
});
