import type { Database } from 'better-sqlite3';

export interface GroupCommit {
  /**
   * Runs `op` inside the next shared transaction and resolves with its result once that
   * transaction has committed, or rejects with the op's own error (its changes rolled back to
   * its savepoint, the others kept) or with the commit's error (nothing of the batch kept).
   */
  run<T>(op: () => T): Promise<T>;
  /** Commits whatever is queued now (before the database closes). */
  flush(): void;
}

interface Queued {
  op: () => unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  done?: { ok: true; value: unknown } | { ok: false; error: unknown };
}

/**
 * Group commit for the two writes on every proxied request (reserve, settle). The calls made
 * during one turn of the event loop are run, in order, in one IMMEDIATE transaction at the end of
 * that turn; each caller is answered only after the COMMIT, so a reservation is durable before
 * its request is forwarded and a usage record before its response ends, as with one transaction
 * each. What the batch saves is the per-commit cost (WAL frames for the same pages written once
 * per batch instead of once per call), which under load was most of the store's time.
 *
 * `op` should be a better-sqlite3 transaction function: called inside the batch it becomes a
 * SAVEPOINT, so an op that throws undoes only its own statements.
 */
export function createGroupCommit(db: Database): GroupCommit {
  let queue: Queued[] = [];
  let scheduled = false;

  const runAll = db.transaction((items: Queued[]) => {
    for (const item of items) {
      try {
        item.done = { ok: true, value: item.op() };
      } catch (error) {
        item.done = { ok: false, error };
      }
    }
  });

  const flush = () => {
    scheduled = false;
    if (queue.length === 0) return;
    const items = queue;
    queue = [];
    try {
      runAll.immediate(items);
    } catch (err) {
      // BEGIN or COMMIT failed (locked past busy_timeout, disk full): nothing of the batch is kept.
      for (const item of items) item.reject(err);
      return;
    }
    for (const item of items) {
      const done = item.done;
      if (done?.ok) item.resolve(done.value);
      else item.reject(done?.error);
    }
  };

  return {
    run<T>(op: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    flush,
  };
}
