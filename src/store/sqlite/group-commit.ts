import type { Database } from 'better-sqlite3';

export interface GroupCommit {
  /**
   * Runs `op` inside the next shared transaction and resolves with its result once that
   * transaction has committed, or rejects with the op's own error (nothing of it kept, the other
   * calls unaffected) or with the commit's error (nothing of the batch kept).
   */
  run<T>(op: () => T): Promise<T>;
  /** Commits whatever is queued now (before the database closes). */
  flush(): void;
  /**
   * Commits what is queued, then runs `items` in one transaction of their own now, synchronously,
   * answering each through its callbacks before returning (the write worker's batch: one message
   * is one batch, with no promise per call and no wait for the next turn).
   */
  runNow(items: BatchItem[]): void;
}

/** One call of a batch: its op, and where its result or its own error goes. */
export interface BatchItem {
  op: () => unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}
type Queued = BatchItem;

export interface GroupCommitHooks {
  /** Runs first in every transaction, before its ops. */
  begin?: () => void;
  /** Runs last in every transaction, after its ops and before its COMMIT (a throw fails the batch). */
  end?: () => void;
  /** Runs after a transaction was rolled back (an op or the COMMIT failed). */
  rolledBack?: () => void;
}

class OpFailed {
  constructor(readonly error: unknown) {}
}

/**
 * Group commit for the two writes on every proxied request (reserve, settle). The calls made
 * during one turn of the event loop are run, in order, in one IMMEDIATE transaction at the end of
 * that turn; each caller is answered only after the COMMIT, so a reservation is durable before
 * its request is forwarded and a usage record before its response ends, as with one transaction
 * each. What the batch saves is the per-commit cost (WAL frames for the same pages written once
 * per batch instead of once per call), which under load was most of the store's time.
 *
 * The ops run back to back without savepoints (a SAVEPOINT and RELEASE per op cost a quarter of
 * the store's time). If one throws, the whole batch is rolled back and every op is run again in
 * a transaction of its own, so a failure reaches only its own caller. Ops must therefore depend
 * on nothing but the database, which holds for reserve and settle.
 */
export function createGroupCommit(db: Database, hooks: GroupCommitHooks = {}): GroupCommit {
  let queue: Queued[] = [];
  let scheduled = false;
  const begin = hooks.begin ?? (() => {});
  const end = hooks.end ?? (() => {});
  const rolledBack = hooks.rolledBack ?? (() => {});

  const runAll = db.transaction((items: Queued[]) => {
    begin();
    const values = items.map((item) => {
      try {
        return item.op();
      } catch (error) {
        throw new OpFailed(error);
      }
    });
    end();
    return values;
  });
  const runOne = db.transaction((item: Queued) => {
    begin();
    const value = item.op();
    end();
    return value;
  });

  const commit = (items: Queued[]) => {
    let values: unknown[];
    try {
      values = runAll.immediate(items);
    } catch (err) {
      try {
        rolledBack();
      } catch (hookErr) {
        for (const item of items) item.reject(hookErr);
        return;
      }
      // BEGIN or COMMIT failed (locked past busy_timeout, disk full): nothing of the batch is kept.
      if (!(err instanceof OpFailed)) {
        for (const item of items) item.reject(err);
        return;
      }
      // An op failed and the batch was rolled back: each op alone now, so that its caller gets
      // its own result or error.
      for (const item of items) {
        try {
          item.resolve(runOne.immediate(item));
        } catch (err) {
          rolledBack();
          item.reject(err);
        }
      }
      return;
    }
    for (let i = 0; i < items.length; i++) (items[i] as Queued).resolve(values[i]);
  };
  const flush = () => {
    scheduled = false;
    if (queue.length === 0) return;
    const items = queue;
    queue = [];
    commit(items);
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
    runNow(items) {
      flush();
      if (items.length > 0) commit(items);
    },
  };
}
