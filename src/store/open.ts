import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { sqliteOpenError } from './sqlite/open-error.js';
import { createSqliteStore } from './sqlite.js';
import { isStoreUnavailable } from './store-unavailable.js';
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
    throw openError(url, err);
  }
  return store;
}

/** Why the store at `url` could not be opened, naming it (never its password) and what to do. */
function openError(url: string, err: unknown): Error {
  const file = sqliteFileOf(url);
  // The database's own words, not the store_unavailable that wraps them for requests.
  if (file) return sqliteOpenError(file, isStoreUnavailable(err) ? (err.cause ?? err) : err);
  if (!isPostgres(url)) return err instanceof Error ? err : new Error(String(err));
  const cause = (err as { cause?: unknown }).cause ?? err;
  const code = (cause as { code?: string }).code;
  const why = (cause instanceof Error && cause.message) || code || String(cause);
  let where = withoutPassword(url);
  try {
    const u = new URL(url);
    where = `${u.hostname}:${u.port || '5432'}, database '${decodeURIComponent(u.pathname.slice(1)) || u.username || 'postgres'}'${u.username ? ` as user '${decodeURIComponent(u.username)}'` : ''}`;
  } catch {
    // An unparsable URL is named as written, password removed.
  }
  return new Error(
    `cannot open the PostgreSQL store at ${where}: ${why}${code && !why.includes(code) ? ` (${code})` : ''}; check that the server runs and accepts connections there, that the database exists, and the --store URL or $TOLLGATE_STORE.`,
    { cause },
  );
}

const isPostgres = (url: string) => url.startsWith('postgres://') || url.startsWith('postgresql://');

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
    try {
      mkdirSync(dirname(file), { recursive: true });
      return createSqliteStore(file);
    } catch (err) {
      throw sqliteOpenError(file, err);
    }
  }
  throw new Error(
    `The store URL '${withoutPassword(url)}' is not supported; use sqlite:PATH (e.g. sqlite:data/tollgate.db) or postgres://user@host:5432/db.`,
  );
}

/** A URL in an error message must not carry its password into logs. */
function withoutPassword(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}
