import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { postgresBackend } from './pg.js';

/**
 * One storage backend the shared store suite (test/integration/store.test.ts) runs against,
 * the way Kong's tests loop over its database strategies.
 */
export interface StoreBackend {
  name: string;
  /**
   * Opens an initialized store on this backend's storage. The first call after `destroy()` (or
   * ever) starts from empty storage; later calls reopen the same data, which is how the suite
   * checks that something survives a close and reopen.
   */
  create(): Promise<Store>;
  /** Closes every store `create()` returned and wipes the storage. */
  destroy(): Promise<void>;
}

/**
 * SQLite on a real file in a fresh temp dir (WAL needs a file; `:memory:` would hide it). `cpus`
 * is the store's `writer.cpus` (default: the machine's): 1 runs reserve and settle on the event
 * loop's own connection, as on a 1-vCPU host, more in the write worker.
 */
export function sqliteBackend(cpus?: number): StoreBackend {
  let dir: string | null = null;
  const opened: Store[] = [];
  return {
    name: cpus === undefined ? 'sqlite' : cpus === 1 ? 'sqlite, one CPU' : 'sqlite, write worker',
    async create() {
      dir ??= mkdtempSync(join(tmpdir(), 'tollgate-store-'));
      const store = createSqliteStore(join(dir, 'tollgate.db'), cpus ? { writer: { cpus } } : {});
      opened.push(store);
      await store.init();
      return store;
    },
    async destroy() {
      for (const store of opened.splice(0)) await store.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = null;
    },
  };
}

/**
 * Every backend the suite runs against. PostgreSQL is the machine's server (see test/helpers/pg.ts,
 * TOLLGATE_TEST_PG_URL to point elsewhere); TOLLGATE_TEST_SKIP_PG=1 leaves it out on a machine
 * without one. `bothSqliteWriters` (the suites of reserve and settle) runs SQLite twice: with the
 * write worker, and with one CPU (the writes on the event loop), whatever this machine has.
 */
export function storeBackends(opts: { bothSqliteWriters?: boolean } = {}): StoreBackend[] {
  return [
    ...(opts.bothSqliteWriters ? [sqliteBackend(2), sqliteBackend(1)] : [sqliteBackend()]),
    ...(process.env.TOLLGATE_TEST_SKIP_PG === '1' ? [] : [postgresBackend()]),
  ];
}
