import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/open.js';

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
