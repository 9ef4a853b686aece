import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createSqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/**
 * Opens and initializes the store named by a URL (`--store`, `$TOLLGATE_STORE`, `server.store`):
 * `sqlite:data/tollgate.db` (relative to the working directory), `sqlite:/abs/path.db`,
 * `sqlite::memory:`, or `postgres://…` / `postgresql://…`.
 *
 * It does not recover reservations: a second process on the same SQLite file (`tollgate usage`
 * while `serve` runs) must not release the server's live reservations; `serve` does that itself.
 *
 * `mustExist` is for the commands that only read (`usage`, `digest`): a typo in `--store` must be
 * an error, not a fresh empty database that reports "no spend".
 */
export async function openStore(url: string, opts: { mustExist?: boolean } = {}): Promise<Store> {
  const store = await createStoreFor(url, opts.mustExist ?? false);
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

/** The SQLite file a store URL names (absolute), or undefined for PostgreSQL and `:memory:`. */
export function sqliteFileOf(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
  return path === '' || path === ':memory:' ? undefined : resolve(path);
}

async function createStoreFor(url: string, mustExist: boolean): Promise<Store> {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    // Loaded on demand so the embedded default never pays for the pg driver.
    const { createPostgresStore } = await import('./postgres.js');
    return createPostgresStore(url);
  }
  if (url.startsWith('sqlite:')) {
    // `sqlite://data/x.db` and `sqlite:///abs/x.db` are common spellings too: read them as the
    // path after `//` rather than as a path starting at the filesystem root.
    const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
    if (path === '') {
      throw new Error(
        `The store URL '${url}' names no file; use sqlite:data/tollgate.db or sqlite::memory:.`,
      );
    }
    if (path === ':memory:') return createSqliteStore(':memory:');
    const file = resolve(path);
    if (mustExist && !existsSync(file)) {
      throw new Error(
        `there is no SQLite store at ${file}; check --store or $TOLLGATE_STORE ('tollgate serve' creates it)`,
      );
    }
    mkdirSync(dirname(file), { recursive: true });
    return createSqliteStore(file);
  }
  throw new Error(
    `The store URL '${withoutPassword(url)}' is not supported; use sqlite:PATH (e.g. sqlite:data/tollgate.db) or postgres://user@host:5432/db.`,
  );
}

/** A URL in an error message must not carry its password into logs. */
function withoutPassword(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}
