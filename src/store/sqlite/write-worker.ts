import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { createSqliteBudget } from './budget.js';
import { createGroupCommit } from './group-commit.js';
import { createWriteProbe } from './write-probe.js';
import type { WriteCall, WriteReply, WriterData } from './write-protocol.js';
import { errorReply } from './write-protocol.js';

/*
 * The write worker's thread (started by writer.ts): it owns the connection that
 * reserves and settles, and runs them through the same group commit and the same budget code the
 * main thread ran before. A call is answered only after the COMMIT of its transaction, so what
 * the main thread learns is durable, exactly as before; only the event loop that waits is no
 * longer the one that executes the SQL.
 */

const port = parentPort;
if (!port) throw new Error('write-worker.ts runs only as a worker thread');
const { path, autocheckpoint } = workerData as WriterData;

const db = new Database(path);
db.pragma('busy_timeout = 5000');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
// The checkpointer's worker copies the WAL on (checkpointer.ts); `autocheckpoint` below brings
// SQLite's own back should that worker die.
db.pragma(`wal_autocheckpoint = ${autocheckpoint ? 500 : 0}`);
db.pragma('foreign_keys = ON');

// The reservation's timestamp is the main thread's clock, carried by the call (tests move it).
let now = 0;
const budget = createSqliteBudget(db, () => now);
const group = createGroupCommit(db, { begin: budget.begin, rolledBack: budget.rolledBack });
const probe = createWriteProbe(db);
const answering = new Set<Promise<void>>();

const start = (call: WriteCall): Promise<unknown> => {
  switch (call.op) {
    case 'reserve':
      return group.run(() => {
        now = call.now;
        return budget.reserve(call.r);
      });
    case 'settle':
      return group.run(() => budget.settle(call.u, call.periods));
    case 'probe':
      return group.run(() => probe(call.at));
    case 'recover':
      // Its own transaction, after what was queued before it (the calls keep their order).
      group.flush();
      try {
        return Promise.resolve(budget.recoverReservations(call.now, call.all));
      } catch (err) {
        return Promise.reject(err);
      }
  }
};

const onCalls = (calls: WriteCall[]) => {
  const results = calls.map(start);
  const answered = Promise.allSettled(results).then((settled) => {
    const replies: WriteReply[] = settled.map((s, i) => {
      const id = (calls[i] as WriteCall).id;
      return s.status === 'fulfilled' ? { id, value: s.value } : errorReply(id, s.reason);
    });
    port.postMessage(replies);
  });
  answering.add(answered);
  void answered.finally(() => answering.delete(answered));
};

port.on('message', (m: WriteCall[] | 'close' | 'autocheckpoint') => {
  if (m === 'autocheckpoint') {
    db.pragma('wal_autocheckpoint = 500');
    return;
  }
  if (m !== 'close') {
    onCalls(m);
    return;
  }
  // Shutdown drains: what is queued commits, and every caller hears of it, before the close.
  group.flush();
  void Promise.allSettled([...answering]).then(() => {
    db.close();
    port.close();
  });
});
