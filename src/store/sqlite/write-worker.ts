import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { createSqliteBudget } from './budget.js';
import { type BatchItem, createGroupCommit } from './group-commit.js';
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
const group = createGroupCommit(db, {
  begin: budget.begin,
  end: budget.end,
  rolledBack: budget.rolledBack,
});
const probe = createWriteProbe(db);

/** A call's op for the batch's transaction (`recover` is not one: it runs in its own). */
const opOf = (call: Exclude<WriteCall, { op: 'recover' }>): (() => unknown) => {
  switch (call.op) {
    case 'reserve':
      return () => {
        now = call.now;
        return budget.reserve(call.r);
      };
    case 'settle':
      return () => budget.settle(call.u, call.periods);
    case 'probe':
      return () => probe(call.at);
  }
};

/**
 * One batch, run now: its calls in order in one IMMEDIATE transaction (a `recover` in its own,
 * after what came before it), each answered after the COMMIT that holds it, all in one reply.
 * Synchronous: no promise per call and no wait for another turn of this thread's loop.
 */
const runCalls = (calls: WriteCall[]): WriteReply[] => {
  const replies = new Array<WriteReply>(calls.length);
  let items: BatchItem[] = [];
  const commit = () => {
    group.runNow(items);
    items = [];
  };
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i] as WriteCall;
    const id = call.id;
    if (call.op === 'recover') {
      commit();
      try {
        replies[i] = { id, value: budget.recoverReservations(call.now, call.all) };
      } catch (err) {
        replies[i] = errorReply(id, err);
      }
      continue;
    }
    items.push({
      op: opOf(call),
      resolve: (value) => {
        replies[i] = { id, value };
      },
      reject: (err) => {
        replies[i] = errorReply(id, err);
      },
    });
  }
  commit();
  return replies;
};

type Message = WriteCall[] | 'close' | 'autocheckpoint';

const control = (m: 'close' | 'autocheckpoint') => {
  if (m === 'autocheckpoint') {
    db.pragma('wal_autocheckpoint = 500');
    return;
  }
  // Shutdown: every batch that came before was committed and answered as it arrived.
  db.close();
  port.close();
};

port.on('message', (first: Message) => {
  if (!Array.isArray(first)) {
    control(first);
    return;
  }
  // The batches already waiting behind this one join its transaction (one COMMIT for all, as the
  // group commit did when they arrived in one turn); each gets its own reply, in order.
  const batches: WriteCall[][] = [first];
  let after: 'close' | 'autocheckpoint' | undefined;
  for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) {
    const m = next.message as Message;
    if (!Array.isArray(m)) {
      after = m;
      break;
    }
    batches.push(m);
  }
  const replies = runCalls(batches.length === 1 ? first : batches.flat());
  port.postMessage(replies);
  if (after) control(after);
});
