import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockSqliteStore } from '../../../src/store/sqlite/owner-lock.js';

describe('the SQLite store lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-lock-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second holder, in this process too, until the first releases it', () => {
    const file = join(dir, 'data', 'tollgate.db');
    const first = lockSqliteStore(file);
    expect(() => lockSqliteStore(file)).toThrow(
      `the SQLite store ${file} is in use by another 'tollgate serve'`,
    );
    first.release();
    lockSqliteStore(file).release();
  });

  it('names the store and its lock file when the folder cannot be made', () => {
    writeFileSync(join(dir, 'plain-file'), 'x');
    const file = join(dir, 'plain-file', 'tollgate.db');
    expect(() => lockSqliteStore(file)).toThrow(
      `cannot open the SQLite store ${file} (its lock file ${file}.lock):`,
    );
  });
});
