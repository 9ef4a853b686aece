import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/open.js';
import { sqliteOpenError } from '../../../src/store/sqlite/open-error.js';

describe('openStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-open-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens an initialized SQLite store at an absolute path, creating the missing parent folders', async () => {
    const file = join(dir, 'nested', 'deeper', 'tollgate.db');
    const store = await openStore(`sqlite:${file}`);
    try {
      expect(store.kind).toBe('sqlite');
      expect(await store.claimOnce('scope', 'id', 1)).toBe(true);
      expect(existsSync(file)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('resolves a relative SQLite path against the working directory', async () => {
    const file = join(dir, 'data', 'rel.db');
    const store = await openStore(`sqlite:${relative(process.cwd(), file)}`);
    await store.close();
    expect(existsSync(file)).toBe(true);
  });

  it('reads sqlite:///abs/path as the absolute path after the slashes', async () => {
    const file = join(dir, 'slashes.db');
    const store = await openStore(`sqlite://${file}`);
    await store.close();
    expect(existsSync(file)).toBe(true);
  });

  it('opens an in-memory SQLite store for sqlite::memory:', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await store.ping();
      expect(await store.listDisabled()).toEqual(new Map());
    } finally {
      await store.close();
    }
  });

  it('refuses a URL of an unknown kind with a sentence that hides its password', async () => {
    const err = await openStore('mysql://root:hunter2@db:3306/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/not supported; use sqlite:PATH/);
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('refuses sqlite: with no file', async () => {
    await expect(openStore('sqlite:')).rejects.toThrow(/names no file/);
  });
});

describe('a store that cannot be opened', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-open-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the SQLite path and says what to do, for a path that is a folder', async () => {
    const err = (await openStore(`sqlite:${dir}`).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`cannot open the SQLite store ${dir}:`);
    expect(err.message).toMatch(/check that the folder exists and that tollgate may write to it/);
    expect(err.message).toContain('--store or $TOLLGATE_STORE');
  });

  it('names the SQLite path when its folder cannot be made', async () => {
    writeFileSync(join(dir, 'plain-file'), 'x');
    const file = join(dir, 'plain-file', 'tollgate.db');
    const err = (await openStore(`sqlite:${file}`).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`cannot open the SQLite store ${file}:`);
  });

  it('says what to do about a read-only store (the message better-sqlite3 gives has no path)', () => {
    const cause = Object.assign(new Error('attempt to write a readonly database'), {
      code: 'SQLITE_READONLY',
    });
    const err = sqliteOpenError('/srv/tollgate/data/tollgate.db', cause);
    expect(err.message).toBe(
      'cannot open the SQLite store /srv/tollgate/data/tollgate.db: attempt to write a readonly database (SQLITE_READONLY); check that the folder exists and that tollgate may write to it and to the file (SQLite also writes -wal and -shm files next to it), or choose another store with --store or $TOLLGATE_STORE.',
    );
  });

  it('says that another process holds a locked store, not that the file may be damaged', () => {
    const cause = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const err = sqliteOpenError('/srv/tollgate/data/tollgate.db', cause);
    expect(err.message).toBe(
      'cannot open the SQLite store /srv/tollgate/data/tollgate.db: database is locked (SQLITE_BUSY); another process kept it locked for over 5 s: check what else has the file open, then try again, or choose another store with --store or $TOLLGATE_STORE.',
    );
  });

  it('names the PostgreSQL host, port, database and user, never the password, when nothing listens', async () => {
    const err = (await openStore('postgres://tollgate:hunter2@127.0.0.1:1/usage_db').catch(
      (e: unknown) => e,
    )) as Error;
    expect(err.message).toContain(
      "cannot open the PostgreSQL store at 127.0.0.1:1, database 'usage_db' as user 'tollgate'",
    );
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).not.toContain('hunter2');
    expect(err.message).not.toContain('so the request was refused');
  });
});
