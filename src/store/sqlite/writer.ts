import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import { type Clock, systemClock } from '../../clock.js';
import { createInFlight, type InFlight } from '../../in-flight.js';
import type { PeriodSpend, ReserveRequest, ReserveResult, UsageRecord } from '../types.js';
import type { SqliteBudget } from './budget.js';
import { createGroupCommit } from './group-commit.js';
import { createWriteProbe } from './write-probe.js';
import { revivedError, type WriteCall, type WriteReply, type WriterData } from './write-protocol.js';

/** Reserve, settle and the reservation sweep: the store's writes on every request. */
export interface BudgetWriter {
  reserve(r: ReserveRequest, now: number): Promise<ReserveResult>;
  settle(usage: UsageRecord, periods: string[]): Promise<Record<string, PeriodSpend> | undefined>;
  recover(now: number, all: boolean): Promise<number>;
  /**
   * One small write through the connection that reserves and settles (a claim taken and dropped
   * in one transaction): /healthz asks it while those writes fail (write-health.ts).
   */
  probe(at: number): Promise<void>;
  /** SQLite's own checkpoints again (the checkpointer's worker died). */
  autocheckpoint(): void;
  /** Commits and answers every call made so far, then stops. */
  close(): Promise<void>;
  /** Tests only (not reachable from config): kills the worker thread as a crash would. */
  terminateForTest?(): Promise<void>;
}

/**
 * On the event loop, through the group commit: for `:memory:`, which no other thread can open,
 * and for a file when the process has one CPU to run on (sqlite.ts says why). `budget()` is read
 * at each call: it exists once init() has migrated the database.
 */
export function inThreadWriter(db: Database, budget: () => SqliteBudget): BudgetWriter {
  const group = createGroupCommit(db, {
    begin: () => budget().begin(),
    end: () => budget().end(),
    rolledBack: () => budget().rolledBack(),
  });
  const probe = createWriteProbe(db);
  return {
    reserve: (r) => group.run(() => budget().reserve(r)),
    settle: (u, periods) => group.run(() => budget().settle(u, periods)),
    async recover(now, all) {
      return budget().recoverReservations(now, all);
    },
    // This connection is the one requests write through: the claim on it is the write they make.
    probe: (at) => group.run(() => probe(at)),
    autocheckpoint: () => db.pragma('wal_autocheckpoint = 500'),
    async close() {
      // Callers still waiting for the batch get its commit, not a closed database.
      group.flush();
    },
  };
}

/*
 * The worker's entry: its compiled .js next to this file, or under tsx and vitest the .ts
 * source, which a worker thread loads through tsx's API (a worker does not inherit the loader).
 */
const BOOT = `
const { workerData } = require('node:worker_threads');
const load = workerData.tsx
  ? import(workerData.tsx).then((tsx) => tsx.tsImport(workerData.entry, workerData.entry))
  : import(workerData.entry);
load.catch((err) => { throw err; });
`;

function workerEntry(): { entry: string; tsx?: string } {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./write-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
  if (!fromSource) return { entry };
  // tsx's ESM API; require.resolve names its CommonJS twin beside it.
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  return { entry, tsx: pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href };
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  /** When its batch was posted (performance.now()); 0 while still queued. */
  sentAt: number;
}

/** What the writer needs of a worker thread: node's Worker, or a test's stand-in. */
export type WriterThread = Pick<Worker, 'postMessage' | 'ref' | 'unref' | 'terminate' | 'on' | 'once'>;

export interface WorkerWriterOptions {
  /** Reads the time of the last failure, for the restart pause (injected so tests move it). */
  clock?: Clock;
  /**
   * How long one batch may go unanswered before its calls fail and the worker is replaced. A
   * batch waits at most busy_timeout (5 s) for a lock, and then again per call if the batch is
   * retried one call at a time: generous, so only a worker that hangs reaches it.
   */
  deadlineMs?: number;
  /** After a worker failed, calls are refused at once for this long rather than starting another. */
  restartPauseMs?: number;
  /** Starts the thread (tests pass one that fails, hangs or is a stand-in). */
  spawn?: (data: WriterData) => WriterThread;
}

function answer(w: WriterThread, pending: InFlight<Pending>, replies: WriteReply[]): void {
  for (const reply of replies) {
    const p = pending.get(reply.id);
    if (!p) continue;
    pending.delete(reply.id);
    if ('error' in reply) p.reject(revivedError(reply.error));
    else p.resolve(reply.value);
  }
  // Idle, the worker does not keep the process alive; a call in flight does.
  if (pending.size === 0) w.unref();
}

/**
 * Asks the worker to close and waits for it to exit. A worker that does not finish closing must
 * not hold the shutdown forever: past `deadlineMs` it is terminated, and close() returns after at
 * most another `deadlineMs` whether or not the thread has stopped. What it had answered is
 * committed; a call it had not answered was failed by then (watch). A thread blocked inside a
 * system call (a disk that stopped answering) cannot be stopped from JavaScript, and node waits
 * for it at exit: such a process needs SIGKILL (docs/operations.md).
 */
async function closeWorker(w: WriterThread, deadlineMs: number): Promise<void> {
  const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
  w.ref();
  w.postMessage('close');
  const timers: NodeJS.Timeout[] = [];
  const after = (ms: number) =>
    new Promise<'late'>((resolve) => {
      timers.push(setTimeout(() => resolve('late'), ms));
    });
  try {
    if ((await Promise.race([exited, after(deadlineMs)])) !== 'late') return;
    await Promise.race([w.terminate().catch(() => {}), after(deadlineMs)]);
  } finally {
    for (const t of timers) clearTimeout(t);
    // Not waiting any more: the thread must not keep the process alive on its own account.
    w.unref();
  }
}

/**
 * The deadline of the batches in flight: one timer for them all, not one per batch (a 30 s timer
 * per batch kept thousands alive under load, each promoted to the old generation before it
 * fired). It fires when the oldest call still unanswered was posted `deadlineMs` ago (`late`),
 * or is set again for the next one.
 */
function watchDeadline(deadlineMs: number, pending: InFlight<Pending>, late: () => void): { posted(): void } {
  let timer: NodeJS.Timeout | null = null;
  const arm = (ms: number) => {
    timer = setTimeout(check, ms);
    // The worker, referenced while calls wait, keeps the process alive; the timer need not.
    timer.unref();
  };
  const check = () => {
    timer = null;
    // The calls in `pending` are in the order they were made: the first one posted is the oldest.
    for (const p of pending.values()) {
      if (p.sentAt === 0) continue;
      const waited = performance.now() - p.sentAt;
      if (waited >= deadlineMs) late();
      else arm(deadlineMs - waited);
      return;
    }
  };
  return {
    posted() {
      if (!timer) arm(deadlineMs);
    },
  };
}

/** The real write worker (tests wrap it). */
export const spawnWorker = (data: WriterData): WriterThread =>
  new Worker(BOOT, { eval: true, workerData: data });

/**
 * A worker thread that owns the writing connection to the file at `path` (write-worker.ts).
 * Before it, reserve and settle ran their group commit on the event loop: the batch's SQL and
 * its COMMIT held every request in the process for their length (the stall trace of
 * bench/profile.ts). Now the calls made during one turn of the loop go to the worker in one
 * message, it runs them in one IMMEDIATE transaction as before, and answers each after the
 * COMMIT: a reservation is durable before its request is forwarded and a usage record before its
 * response ends, as before. Started at the first call, so commands that only read never start it.
 *
 * Should the worker fail (it could not open the file, it died, a message could not be read, a
 * batch went unanswered past the deadline), every call waiting rejects (the store boundary makes
 * that store_unavailable: requests fail closed) and, after a short pause, the next call starts a
 * new worker. A call that was waiting may have committed all the same; reserve and settle are
 * idempotent by request id, and a reservation nobody settles is charged when its lease ends.
 */
export function workerWriter(path: string, options: WorkerWriterOptions = {}): BudgetWriter {
  const clock = options.clock ?? systemClock;
  const deadlineMs = options.deadlineMs ?? 30_000;
  const pauseMs = options.restartPauseMs ?? 1_000;
  const spawn = options.spawn ?? spawnWorker;
  let worker: WriterThread | null = null;
  let closing: Promise<void> | null = null;
  let nextId = 1;
  // Not a Map: one entry per call on a structure that lives for good (in-flight.ts says why).
  const pending = createInFlight<Pending>();
  let queue: WriteCall[] = [];
  let scheduled = false;
  let auto = false;
  let lastFailure: { at: number; err: Error } | null = null;

  const fail = (w: WriterThread, err: Error) => {
    if (worker !== w) return;
    worker = null;
    lastFailure = { at: clock(), err };
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    queue = [];
    // A worker that hangs or sent what cannot be read is not trusted with the next batch.
    void w.terminate().catch(() => {});
  };
  const start = (): WriterThread => {
    const { entry, tsx } = workerEntry();
    const w = spawn({ path, autocheckpoint: auto, entry, ...(tsx ? { tsx } : {}) });
    w.on('message', (m: WriteReply[]) => answer(w, pending, m));
    w.on('messageerror', (err) =>
      fail(w, new Error(`the SQLite write worker sent a message that cannot be read: ${err.message}`)),
    );
    w.on('error', (err) =>
      fail(w, new Error(`the SQLite write worker failed: ${err.message}`, { cause: err })),
    );
    w.on('exit', (code) => fail(w, new Error(`the SQLite write worker exited (code ${code})`)));
    return w;
  };
  const deadline = watchDeadline(deadlineMs, pending, () => {
    if (worker) fail(worker, new Error(`the SQLite write worker did not answer within ${deadlineMs} ms`));
  });
  const flush = () => {
    scheduled = false;
    const w = worker;
    if (queue.length === 0 || !w) return;
    const calls = queue;
    queue = [];
    w.ref();
    try {
      w.postMessage(calls);
    } catch (err) {
      // A call that cannot be cloned (DataCloneError): its batch fails, not the process.
      for (const c of calls) {
        pending.get(c.id)?.reject(err);
        pending.delete(c.id);
      }
      if (pending.size === 0) w.unref();
      return;
    }
    const at = performance.now();
    for (const c of calls) {
      const p = pending.get(c.id);
      if (p) p.sentAt = at;
    }
    deadline.posted();
  };
  /** `c.id` is set here (callers pass 0). */
  const call = <T>(c: WriteCall): Promise<T> => {
    if (closing) return Promise.reject(new Error('the SQLite store is closing'));
    if (!worker && lastFailure && clock() - lastFailure.at < pauseMs) {
      // A worker that cannot open the file would otherwise be restarted at every call.
      return Promise.reject(lastFailure.err);
    }
    worker ??= start();
    c.id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(c.id, { resolve: resolve as (v: unknown) => void, reject, sentAt: 0 });
      queue.push(c);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };

  return {
    reserve: (r, now) => call({ id: 0, op: 'reserve', r, now }),
    settle: (u, periods) => call({ id: 0, op: 'settle', u, periods }),
    recover: (now, all) => call({ id: 0, op: 'recover', now, all }),
    probe: (at) => call({ id: 0, op: 'probe', at }),
    autocheckpoint() {
      auto = true;
      worker?.postMessage('autocheckpoint');
    },
    async terminateForTest() {
      await worker?.terminate();
    },
    close() {
      closing ??= (async () => {
        const w = worker;
        if (!w) return;
        flush();
        await closeWorker(w, deadlineMs);
      })();
      return closing;
    },
  };
}
