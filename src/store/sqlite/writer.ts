import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import type { PeriodSpend, ReserveRequest, ReserveResult, UsageRecord } from '../types.js';
import type { SqliteBudget } from './budget.js';
import { createGroupCommit } from './group-commit.js';
import { revivedError, type WriteCall, type WriteReply, type WriterData } from './write-protocol.js';

/** Reserve, settle and the reservation sweep: the store's writes on every request. */
export interface BudgetWriter {
  reserve(r: ReserveRequest, now: number): Promise<ReserveResult>;
  settle(usage: UsageRecord, periods: string[]): Promise<Record<string, PeriodSpend> | undefined>;
  recover(now: number, all: boolean): Promise<number>;
  /** SQLite's own checkpoints again (the checkpointer's worker died). */
  autocheckpoint(): void;
  /** Commits and answers every call made so far, then stops. */
  close(): Promise<void>;
}

/**
 * On the event loop, through the group commit: for `:memory:`, which no other thread can open.
 * `budget()` is read at each call: it exists once init() has migrated the database.
 */
export function inThreadWriter(db: Database, budget: () => SqliteBudget): BudgetWriter {
  const group = createGroupCommit(db, {
    begin: () => budget().begin(),
    rolledBack: () => budget().rolledBack(),
  });
  return {
    reserve: (r) => group.run(() => budget().reserve(r)),
    settle: (u, periods) => group.run(() => budget().settle(u, periods)),
    async recover(now, all) {
      return budget().recoverReservations(now, all);
    },
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
}

/**
 * A worker thread that owns the writing connection to the file at `path` (write-worker.ts).
 * Before it, reserve and settle ran their group commit on the event loop: the batch's SQL and
 * its COMMIT held every request in the process for their length (the stall trace of
 * bench/profile.ts). Now the calls made during one turn of the loop go to the worker in one
 * message, it runs them in one IMMEDIATE transaction as before, and answers each after the
 * COMMIT: a reservation is durable before its request is forwarded and a usage record before its
 * response ends, as before. Started at the first call, so commands that only read never start it.
 *
 * Should the worker fail (it could not open the file, it died), every call waiting rejects (the
 * store boundary makes that store_unavailable: requests fail closed) and the next call starts a
 * new worker. A call that was waiting may have committed all the same; reserve and settle are
 * idempotent by request id, and a reservation nobody settles is charged when its lease ends.
 */
export function workerWriter(path: string): BudgetWriter {
  let worker: Worker | null = null;
  let closing: Promise<void> | null = null;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let queue: WriteCall[] = [];
  let scheduled = false;
  let auto = false;

  const fail = (w: Worker, err: Error) => {
    if (worker !== w) return;
    worker = null;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    queue = [];
  };
  const start = (): Worker => {
    const { entry, tsx } = workerEntry();
    const data: WriterData = { path, autocheckpoint: auto, entry, ...(tsx ? { tsx } : {}) };
    const w = new Worker(BOOT, { eval: true, workerData: data });
    w.on('message', (m: WriteReply[]) => {
      for (const reply of m) {
        const p = pending.get(reply.id);
        if (!p) continue;
        pending.delete(reply.id);
        if ('error' in reply) p.reject(revivedError(reply.error));
        else p.resolve(reply.value);
      }
      // Idle, the worker does not keep the process alive; a call in flight does.
      if (pending.size === 0) w.unref();
    });
    w.on('error', (err) =>
      fail(w, new Error(`the SQLite write worker failed: ${err.message}`, { cause: err })),
    );
    w.on('exit', (code) => fail(w, new Error(`the SQLite write worker exited (code ${code})`)));
    return w;
  };
  const flush = () => {
    scheduled = false;
    if (queue.length === 0 || !worker) return;
    const calls = queue;
    queue = [];
    worker.ref();
    worker.postMessage(calls);
  };
  /** `c.id` is set here (callers pass 0). */
  const call = <T>(c: WriteCall): Promise<T> => {
    if (closing) return Promise.reject(new Error('the SQLite store is closing'));
    worker ??= start();
    c.id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(c.id, { resolve: resolve as (v: unknown) => void, reject });
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
    autocheckpoint() {
      auto = true;
      worker?.postMessage('autocheckpoint');
    },
    close() {
      closing ??= (async () => {
        const w = worker;
        if (!w) return;
        flush();
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        w.ref();
        w.postMessage('close');
        await exited;
      })();
      return closing;
    },
  };
}
