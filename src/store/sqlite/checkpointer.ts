import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface CheckpointerOptions {
  /** How often the worker runs a PASSIVE checkpoint. */
  everyMs?: number;
  /**
   * WAL frames (pages of 4 KiB) past which the worker runs a RESTART checkpoint, which makes the
   * next commit wait for it but bounds the WAL: PASSIVE ones alone may never catch up with a
   * writer that never pauses.
   */
  maxFrames?: number;
  /** Called once if the worker dies (not by close()): the caller must checkpoint on its own again. */
  onFailure?: (reason: string) => void;
}

export interface CheckpointStats {
  passive: number;
  restarts: number;
  /** The most frames the WAL held when the worker looked. */
  maxFrames: number;
  /** The frames in the WAL and how many of them were in the database at the last look. */
  lastFrames: number;
  lastBackfilled: number;
}

export interface Checkpointer {
  /** What the worker has done so far (asked of the worker: one message round trip). */
  stats(): Promise<CheckpointStats>;
  /** Stops the worker after a last PASSIVE checkpoint. */
  close(): Promise<void>;
}

/*
 * Runs in the worker thread (CommonJS, given as source so that the same code serves dist/ and
 * the TypeScript sources under test). Its own connection to the file; the main connection has
 * wal_autocheckpoint = 0 and never checkpoints.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
// RESTART waits this long for the main connection's commit in progress (a few ms at most).
db.pragma('busy_timeout = 5000');
// A checkpoint streams pages from the WAL to the database: no page cache worth keeping.
db.pragma('cache_size = -256');
const stats = { passive: 0, restarts: 0, maxFrames: 0, lastFrames: 0, lastBackfilled: 0 };
const checkpoint = (mode) => {
  const row = db.pragma('wal_checkpoint(' + mode + ')')[0];
  stats.lastFrames = row.log;
  stats.lastBackfilled = row.checkpointed;
  stats.maxFrames = Math.max(stats.maxFrames, row.log);
  return row;
};
// The WAL index (-shm) header, read without taking any lock: mxFrame (frames in the WAL) at byte
// 16, nBackfill (frames already copied) at byte 96, native byte order. A torn read only makes
// one tick wrong; the checkpoint itself reads them under its locks.
const fs = require('node:fs');
const le = require('node:os').endianness() === 'LE';
const buf = Buffer.alloc(4);
let shm = -1;
const u32 = (offset) => {
  try {
    if (shm < 0) shm = fs.openSync(workerData.path + '-shm', 'r');
    fs.readSync(shm, buf, 0, 4, offset);
    return le ? buf.readUInt32LE(0) : buf.readUInt32BE(0);
  } catch {
    return -1;
  }
};
const tick = () => {
  try {
    const frames = u32(16);
    const copied = u32(96);
    // A WAL fully copied is restarted by the writer's next commit, but only if no checkpoint
    // holds a lock at that instant: ticking anyway (PASSIVE with nothing to do) kept the WAL from
    // ever restarting under steady writes.
    if (frames >= 0 && copied >= 0 && copied >= frames) return;
    stats.passive++;
    let row = checkpoint('PASSIVE');
    // Frames committed while it copied are left over; a second pass copies only those.
    if (row.checkpointed < row.log) row = checkpoint('PASSIVE');
    if (row.log > workerData.maxFrames && row.checkpointed < row.log) {
      stats.restarts++;
      checkpoint('RESTART');
    }
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
};
const timer = setInterval(tick, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m === 'stats') parentPort.postMessage({ stats });
  if (m === 'close') {
    clearInterval(timer);
    try {
      checkpoint('PASSIVE');
    } catch {}
    if (shm >= 0) fs.closeSync(shm);
    db.close();
    parentPort.postMessage({ closed: true });
    parentPort.close();
  }
});
`;

/**
 * Checkpoints the WAL of the SQLite file at `path` from a worker thread. SQLite's automatic
 * checkpoint runs inside the commit that crosses its threshold, on the event loop: copying the
 * WAL into the database and two fsyncs held every request for 5-35 ms under load (the stall
 * trace of bench/profile.ts). In the worker the copy runs beside the commits (PASSIVE never
 * blocks a writer); only when the WAL outgrows `maxFrames` does a RESTART make one commit wait.
 * Durability is unchanged: commits are durable in the WAL, whoever copies them on.
 */
export function startCheckpointer(path: string, options: CheckpointerOptions = {}): Checkpointer {
  const worker = new Worker(WORKER, {
    eval: true,
    // It allocates next to nothing; the default heap limits would let its isolate grow tens of MB.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    workerData: {
      path,
      module: createRequire(import.meta.url).resolve('better-sqlite3'),
      everyMs: options.everyMs ?? 100,
      maxFrames: options.maxFrames ?? 4096,
    },
  });
  // The worker never keeps the process alive; close() ends it properly.
  worker.unref();
  let lastError: string | undefined;
  const waiting: Array<(s: CheckpointStats) => void> = [];
  let closing: Promise<void> | null = null;
  let exited = false;
  worker.on('message', (m: { stats?: CheckpointStats; error?: string }) => {
    if (m.stats) waiting.shift()?.(m.stats);
    if (m.error) lastError = m.error;
  });
  worker.on('error', (err) => {
    lastError = err.message;
  });
  worker.on('exit', () => {
    exited = true;
    if (!closing) options.onFailure?.(lastError ?? 'the checkpoint worker exited');
  });
  return {
    stats() {
      if (exited)
        return Promise.reject(new Error(`the checkpoint worker has exited (${lastError ?? 'closed'})`));
      return new Promise((resolve) => {
        waiting.push(resolve);
        worker.postMessage('stats');
      });
    },
    close() {
      closing ??= exited
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            // Held open until the worker has exited: an unref'd worker would let the process end
            // (with a top-level await pending) before close() resolves.
            worker.ref();
            worker.postMessage('close');
          });
      return closing;
    },
  };
}
