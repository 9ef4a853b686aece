import { availableParallelism } from 'node:os';
import Database from 'better-sqlite3';
import { type Clock, systemClock } from '../clock.js';
import { createMemoryRateLimiter } from './memory-rate.js';
import { checkedReserve, checkedSettle } from './money-guard.js';
import { createSqliteBillCheck } from './sqlite/bill-check.js';
import { createSqliteBudget } from './sqlite/budget.js';
import { type Checkpointer, startCheckpointer } from './sqlite/checkpointer.js';
import { createSqliteDashboardQueries } from './sqlite/dashboard-queries.js';
import { createSqliteInsights } from './sqlite/insight-queries.js';
import { createSqliteKv } from './sqlite/kv.js';
import { applySqliteMigrations } from './sqlite/migrate.js';
import { type Ready, sqliteDisableCalls, sqliteRecordCalls, sqliteReportCalls } from './sqlite/role-calls.js';
import { createSqliteUsageQueries } from './sqlite/usage-queries.js';
import { switchToWal } from './sqlite/wal-mode.js';
import {
  type BudgetWriter,
  inThreadWriter,
  type WorkerWriterOptions,
  workerWriter,
} from './sqlite/writer.js';
import { guardStoreCalls } from './store-unavailable.js';
import type { Store } from './types.js';

export interface SqliteStoreOptions {
  /** Stamps reservations (their age on recovery); injected so tests can move time. */
  clock?: Clock;
  /**
   * Tests only (config cannot reach it): how the write worker is started and timed, and the
   * writer itself, to kill its thread (sqlite/writer.ts).
   */
  writer?: WorkerWriterOptions & {
    onWriter?: (writer: BudgetWriter) => void;
    /** The CPUs this process may run on (default: os.availableParallelism(), which honours taskset). */
    cpus?: number;
  };
}

/**
 * The embedded store: one SQLite file (or `:memory:`), one process. WAL with synchronous=NORMAL
 * makes every committed transaction survive a process kill (only power loss can drop the last
 * ones), at ~30× the write rate of FULL. better-sqlite3 is synchronous, so each call runs to
 * completion before another starts: reservations are serialized without locks in this process,
 * and IMMEDIATE transactions keep them correct if another process opens the same file. Reserve
 * and settle share their commits through a group commit (sqlite/group-commit.ts), which on a
 * file runs in a worker thread that owns the writing connection (sqlite/writer.ts); this
 * connection migrates, reads, and writes the rest (disables, audit, claims).
 *
 * Rate-limit slots live in memory (memory-rate.ts): one process has nothing to share them with.
 */
export function createSqliteStore(path: string, options: SqliteStoreOptions = {}): Store {
  const clock = options.clock ?? systemClock;
  // In-memory databases have no WAL (nor does '', a temporary file).
  const onDisk = path !== ':memory:' && path !== '';
  const db = openConnection(path, onDisk);

  const rate = createMemoryRateLimiter();
  const subscribers = new Set<() => void>();
  let ready: Ready | null = null;
  let closed = false;
  // Reserve and settle: on a file, a worker thread with a connection of its own runs their group
  // commit, off the event loop (sqlite/writer.ts); `:memory:` is this connection's alone. With
  // one CPU to run on, the worker cannot take the commits off the loop's core: woken by each
  // batch it preempts the loop for the batch's length all the same, and the hand-off doubled
  // the store's CPU per request (bench/sqlite-writes.ts pinned: ~200 µs per reserve + settle
  // against ~105 in the loop's thread). There the group commit runs on this connection; its
  // budget is read without the closed check, so close() still commits what was queued before it.
  const cpus = options.writer?.cpus ?? availableParallelism();
  const writer: BudgetWriter =
    onDisk && cpus > 1
      ? workerWriter(path, { clock, ...options.writer })
      : inThreadWriter(db, () => ready?.budget ?? use().budget);
  options.writer?.onWriter?.(writer);
  const autocheckpoint = () => {
    db.pragma('wal_autocheckpoint = 500');
    writer.autocheckpoint();
  };
  const checkpointer: Checkpointer | null = onDisk
    ? startCheckpointer(path, { onFailure: () => !closed && autocheckpoint() })
    : null;

  const use = (): Ready => {
    if (closed) throw new Error('the SQLite store is closed');
    if (!ready) throw new Error('the SQLite store is not initialized; call init() first');
    return ready;
  };

  const store: Store = {
    kind: 'sqlite',
    async init() {
      if (closed) throw new Error('the SQLite store is closed');
      if (ready) return;
      applySqliteMigrations(db);
      ready = {
        budget: createSqliteBudget(db, clock),
        queries: createSqliteUsageQueries(db),
        kv: createSqliteKv(db),
        dashboard: createSqliteDashboardQueries(db),
        billCheck: createSqliteBillCheck(db),
        insights: createSqliteInsights(db),
      };
    },
    async ping() {
      if (closed) throw new Error('the SQLite store is closed');
      db.prepare('SELECT 1').get();
    },
    async close() {
      if (closed) return;
      closed = true;
      subscribers.clear();
      // Callers still waiting get their commit, not a closed database.
      await writer.close();
      await checkpointer?.close();
      db.close();
    },

    async reserve(r) {
      use();
      checkedReserve(r);
      return writer.reserve(r, clock());
    },
    async settle(usage, periods) {
      use();
      checkedSettle(usage);
      return writer.settle(usage, periods);
    },
    async recoverReservations(now, all = false) {
      use();
      return writer.recover(now, all);
    },
    async probeWrites(at) {
      use();
      return writer.probe(at);
    },
    async getSpend(key, periods) {
      return use().budget.getSpend(key, periods);
    },
    async getAllSpend(periods) {
      return use().budget.getAllSpend(periods);
    },

    async acquireSlot(r) {
      use();
      return rate.acquireSlot(r);
    },
    async releaseSlot(id, key, end) {
      rate.releaseSlot(id, key, end);
    },

    ...sqliteDisableCalls(use, subscribers),
    ...sqliteRecordCalls(use),
    ...sqliteReportCalls(use),
  };

  // The store's boundary: a failed call (disk full, a locked or damaged file, a closed store)
  // reaches callers as store_unavailable, as on PostgreSQL.
  return guardStoreCalls(store, 'SQLite');
}

/** The store's connection, set up (closed again if that fails). */
function openConnection(path: string, onDisk: boolean): Database.Database {
  const db = new Database(path);
  try {
    // The CLI (`tollgate usage`) may read while the server writes: wait for a lock rather than fail.
    db.pragma('busy_timeout = 5000');
    // Switching a new file waits up to the same 5 s for another process switching it at the same
    // moment, which SQLite does not wait for (sqlite/wal-mode.ts).
    if (onDisk) switchToWal(db, 5000);
    else db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the
    // event loop, and held requests for 5-35 ms under load; a worker thread with its own
    // connection checkpoints instead (sqlite/checkpointer.ts), and bounds the WAL. Should the
    // worker die, the automatic checkpoint comes back (every 500 pages: shorter stalls than
    // SQLite's 1,000).
    db.pragma(`wal_autocheckpoint = ${onDisk ? 0 : 500}`);
    db.pragma('foreign_keys = ON');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
