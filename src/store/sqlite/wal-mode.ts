/** The one call of the connection this needs (a better-sqlite3 Database has it). */
export interface PragmaConnection {
  pragma(source: string, options: { simple: true }): unknown;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Switches a connection to WAL. On a new file, two processes doing this at the same moment (the
 * server and `tollgate usage`, or two replicas, on a fresh install) can fail one of them with
 * SQLITE_BUSY at once: the switch upgrades a read transaction to a write one, and SQLite refuses
 * that without calling the busy handler (it could deadlock), busy_timeout notwithstanding. So
 * this retries for up to `waitMs` (the busy_timeout), sleeping between tries (opening is
 * synchronous: Atomics.wait blocks the thread and nothing else), then throws SQLite's error.
 * It also throws if the file ends up in another mode: the pragma answers with the mode it got.
 */
export function switchToWal(db: PragmaConnection, waitMs = 5000): void {
  const deadline = Date.now() + waitMs;
  let mode: unknown;
  for (let pauseMs = 1; ; pauseMs = Math.min(pauseMs * 2, 50)) {
    try {
      mode = db.pragma('journal_mode = WAL', { simple: true });
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
    }
    Atomics.wait(sleeper, 0, 0, Math.max(1, Math.min(pauseMs, deadline - Date.now())));
  }
  if (mode !== 'wal') throw new Error(`SQLite left the journal mode '${String(mode)}' when asked for 'wal'`);
}
