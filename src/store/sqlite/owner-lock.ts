import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { sqliteOpenError } from './open-error.js';

export interface StoreLock {
  readonly file: string;
  release(): void;
}

/**
 * Makes the embedded store belong to one `serve` process. A second one on the same file (an
 * overlapping restart) would take the first one's in-flight reservations for leftovers of a dead
 * run, charge them as expired and drop the real records of those requests; so it refuses to
 * start instead.
 *
 * The lock is SQLite's own: a small database next to the store held in EXCLUSIVE locking mode,
 * i.e. an fcntl lock on an open file descriptor. The kernel drops it when the process ends in
 * any way, kill -9 included, so a restart after a crash just works; a stale file means nothing.
 * It is a separate file, so `tollgate usage` and `digest` can still read the store meanwhile.
 */
export function lockSqliteStore(file: string): StoreLock {
  const lockFile = `${file}.lock`;
  let db: Database.Database;
  try {
    mkdirSync(dirname(file), { recursive: true });
    db = new Database(lockFile);
  } catch (err) {
    throw sqliteOpenError(file, err, `its lock file ${lockFile}`);
  }
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    // The exclusive lock is taken by the first write and then held until the connection closes.
    db.exec('CREATE TABLE IF NOT EXISTS owner (pid INTEGER, started_at INTEGER)');
    db.transaction(() => {
      db.exec('DELETE FROM owner');
      db.prepare('INSERT INTO owner VALUES (?, ?)').run(process.pid, Date.now());
    }).exclusive();
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY')
      throw new Error(
        `the SQLite store ${file} is in use by another 'tollgate serve' (it holds ${lockFile}); the embedded store belongs to one process. Stop the other one first, or give this one its own store with --store or $TOLLGATE_STORE; several replicas need PostgreSQL.`,
      );
    throw sqliteOpenError(file, err, `its lock file ${lockFile}`);
  }
  return {
    file: lockFile,
    release() {
      if (db.open) db.close();
    },
  };
}
