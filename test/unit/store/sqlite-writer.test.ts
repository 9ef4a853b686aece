import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import { applySqliteMigrations } from '../../../src/store/sqlite/migrate.js';
import { spawnWorker, type WriterThread, workerWriter } from '../../../src/store/sqlite/writer.js';
import { createSqliteStore } from '../../../src/store/sqlite.js';
import type { UsageRecord } from '../../../src/store/types.js';
import { trackWriteHealth } from '../../../src/store/write-health.js';

const DAY = 'd:2026-11-26';
/** The write worker whatever the machine's CPUs (with one, the store writes in-thread). */
const WORKER = { cpus: 2 };
const MONTH = 'm:2026-11';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-writer-'));
  dirs.push(dir);
  return join(dir, 't.db');
}

function usage(requestId: string, costUsd = 0.01): UsageRecord {
  return {
    requestId,
    ts: Date.UTC(2026, 10, 26, 12),
    day: '2026-11-26',
    key: 'cursor-dev',
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 100,
    outputTokens: 50,
    cachedTokens: 0,
    costUsd,
    latencyMs: 12,
    stream: false,
    userAgent: 'vitest',
    ip: '127.0.0.1',
    configRevision: 'rev1',
    usageSource: 'provider',
  };
}

describe('the SQLite write worker', () => {
  it('waits for a lock held elsewhere off the event loop, fails closed with SQLITE_BUSY past the busy timeout, and commits once the lock is gone', async () => {
    const path = tempDb();
    const store = createSqliteStore(path, { writer: WORKER });
    await store.init();
    try {
      await store.settle(usage('warm-up'), [DAY, MONTH]); // the worker is up
      const other = new Database(path);
      other.pragma('busy_timeout = 0');
      other.prepare('BEGIN IMMEDIATE').run();
      let turns = 0;
      const ticking = setInterval(() => turns++, 50);
      const err = await store.settle(usage('while-locked'), [DAY, MONTH]).catch((e: unknown) => e);
      clearInterval(ticking);
      // In the event loop, the busy wait would have held every timer until it gave up.
      expect(turns).toBeGreaterThan(0);
      expect(err).toBeInstanceOf(GatewayError);
      expect(err).toMatchObject({ code: 'store_unavailable' });
      expect(((err as GatewayError).cause as { code?: string }).code).toBe('SQLITE_BUSY');
      other.prepare('COMMIT').run();
      other.close();

      await store.settle(usage('after'), [DAY, MONTH]);
      expect(await store.spendBetween('cursor-dev', 0, Date.UTC(2027, 0, 1))).toEqual({
        costUsd: 0.02,
        requests: 2,
      });
    } finally {
      await store.close();
    }
  });

  it.each([
    ['the worker', WORKER],
    ['one CPU, on the event loop', { cpus: 1 }],
  ])('commits and answers every call made before close() (%s)', async (_, writer) => {
    const path = tempDb();
    const store = createSqliteStore(path, { writer });
    await store.init();
    const reserved = Array.from({ length: 50 }, (_, i) =>
      store.reserve({
        id: `held-${i}`,
        key: 'cursor-dev',
        amountUsd: 0.02,
        windows: [{ period: DAY, limitUsd: 100 }],
        periods: [DAY, MONTH],
        leaseUntil: Date.UTC(2030, 0, 1),
      }),
    );
    const settled = Array.from({ length: 100 }, (_, i) => store.settle(usage(`drained-${i}`), [DAY, MONTH]));
    await store.close();
    expect(await Promise.all(reserved)).toEqual(reserved.map(() => ({ ok: true })));
    await Promise.all(settled);

    const again = createSqliteStore(path);
    await again.init();
    try {
      const spend = await again.getSpend('cursor-dev', [DAY]);
      expect(spend[DAY]?.spentUsd).toBeCloseTo(1, 12);
      expect(spend[DAY]?.reservedUsd).toBeCloseTo(1, 12);
      const rows = await again.queryUsage({ since: 0, until: Date.UTC(2027, 0, 1), by: 'key' }, 'UTC');
      expect(rows[0]?.requests).toBe(100);
    } finally {
      await again.close();
    }
  });

  it('with one CPU, reserves and settles on the event loop, no worker, committed before the answer', async () => {
    const path = tempDb();
    let spawned = 0;
    const spawn = (data: Parameters<typeof spawnWorker>[0]) => {
      spawned++;
      return spawnWorker(data);
    };
    const store = createSqliteStore(path, { writer: { cpus: 1, spawn } });
    await store.init();
    const reserved = await store.reserve({
      id: 'one-cpu',
      key: 'cursor-dev',
      amountUsd: 0.02,
      windows: [{ period: DAY, limitUsd: 100 }],
      periods: [DAY, MONTH],
      leaseUntil: Date.UTC(2030, 0, 1),
    });
    expect(reserved).toEqual({ ok: true });
    // Committed when answered: another connection sees it before anything else runs.
    const other = new Database(path, { readonly: true });
    const held = () =>
      other
        .prepare<[string], { reserved_usd: number; spent_usd: number }>(
          "SELECT reserved_usd, spent_usd FROM spend WHERE key = 'cursor-dev' AND period = ?",
        )
        .get(DAY);
    expect(held()?.reserved_usd).toBeCloseTo(0.02, 12);
    await store.settle(usage('one-cpu'), [DAY, MONTH]);
    expect(held()).toEqual({ reserved_usd: 0, spent_usd: expect.closeTo(0.01, 12) });
    await store.probeWrites?.(Date.UTC(2026, 10, 26));
    other.close();
    await store.close();
    expect(spawned).toBe(0);

    const two = createSqliteStore(tempDb(), { writer: { cpus: 2, spawn } });
    await two.init();
    await two.settle(usage('two-cpus'), [DAY]);
    await two.close();
    expect(spawned).toBe(1);
  });

  it('rejects the calls of a worker that failed, refuses at once for the restart pause, then starts a new one', async () => {
    const dir = join(tempDb(), '..', 'later');
    const path = join(dir, 't.db');
    let now = 1_000_000;
    let started = 0;
    const writer = workerWriter(path, {
      clock: () => now,
      spawn: (data) => {
        started++;
        return spawnWorker(data);
      },
    });
    try {
      await expect(writer.settle(usage('a'), [DAY])).rejects.toThrow(/SQLite write worker/);
      // Within the pause: the same error, and no new thread that would fail the same way.
      await expect(writer.settle(usage('b'), [DAY])).rejects.toThrow(/SQLite write worker/);
      expect(started).toBe(1);
      mkdirSync(dir);
      const db = new Database(path);
      applySqliteMigrations(db);
      db.close();
      now += 999;
      await expect(writer.settle(usage('c'), [DAY])).rejects.toThrow(/SQLite write worker/);
      expect(started).toBe(1);
      now += 1;
      expect(await writer.settle(usage('d'), [DAY])).toEqual({ [DAY]: { spentUsd: 0.01, reservedUsd: 0 } });
      expect(started).toBe(2);
    } finally {
      await writer.close();
    }
  });

  it('reports on health the error of a worker that fails, though the main connection still writes', async () => {
    const path = tempDb();
    const failing = () => new Worker("throw new Error('the worker module failed to load')", { eval: true });
    const store = createSqliteStore(path, { writer: { ...WORKER, spawn: failing, restartPauseMs: 0 } });
    await store.init();
    const { store: tracked, health } = trackWriteHealth(store, () => Date.UTC(2026, 10, 26));
    try {
      await expect(tracked.settle(usage('a'), [DAY, MONTH])).rejects.toMatchObject({
        code: 'store_unavailable',
      });
      await health.probe();
      expect(health.failure()?.error).toMatch(/the worker module failed to load/);
      // The main connection is fine: a probe there would have called the store healthy.
      expect(await store.claimOnce('other', 'x', 1)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('keeps reporting a failed write on health while rate slots, granted in memory, still succeed', async () => {
    const path = tempDb();
    const failing = () => new Worker("throw new Error('the worker module failed to load')", { eval: true });
    const store = createSqliteStore(path, { writer: { ...WORKER, spawn: failing, restartPauseMs: 60_000 } });
    await store.init();
    let now = Date.UTC(2026, 10, 26);
    const { store: tracked, health } = trackWriteHealth(store, () => now);
    try {
      await expect(tracked.settle(usage('a'), [DAY, MONTH])).rejects.toMatchObject({
        code: 'store_unavailable',
      });
      const since = health.failure()?.since;
      expect(since).toBe(now);
      now += 60_000;
      // A request of a key with an rpm limit: its slot is granted (no write), its reserve fails.
      const slot = { id: 'b', key: 'cursor-dev', now, leaseUntil: now + 60_000, rpm: 10 };
      expect((await tracked.acquireSlot(slot)).ok).toBe(true);
      expect(health.failure()?.since).toBe(since);
    } finally {
      await store.close();
    }
  });

  it('fails only the batch whose call cannot be cloned, and the worker goes on', async () => {
    const path = tempDb();
    const store = createSqliteStore(path, { writer: WORKER });
    await store.init();
    try {
      const unclonable = { ...usage('fn'), userAgent: (() => 'x') as unknown as string };
      await expect(store.settle(unclonable, [DAY])).rejects.toMatchObject({ code: 'store_unavailable' });
      expect(await store.settle(usage('after'), [DAY])).toEqual({
        [DAY]: { spentUsd: 0.01, reservedUsd: 0 },
      });
    } finally {
      await store.close();
    }
  });

  it('fails the calls waiting on a worker whose message cannot be read, and replaces it', async () => {
    const fake = Object.assign(new EventEmitter(), {
      postMessage: () => {},
      ref: () => {},
      unref: () => {},
      terminated: 0,
      terminate() {
        this.terminated++;
        return Promise.resolve(1);
      },
    });
    let started = 0;
    const writer = workerWriter(tempDb(), {
      restartPauseMs: 0,
      spawn: () => {
        started++;
        return fake as unknown as WriterThread;
      },
    });
    const waiting = writer.settle(usage('a'), [DAY]);
    await new Promise((resolve) => setImmediate(resolve)); // the batch is posted
    fake.emit('messageerror', new Error('could not deserialize'));
    await expect(waiting).rejects.toThrow(/cannot be read: could not deserialize/);
    expect(fake.terminated).toBe(1);
    void writer.settle(usage('b'), [DAY]).catch(() => {});
    expect(started).toBe(2);
  });

  it('fails a batch the worker does not answer within the deadline, and replaces the worker', async () => {
    let started = 0;
    const exited: Promise<number>[] = [];
    const hanging = () => {
      started++;
      const w = new Worker("require('node:worker_threads').parentPort.on('message', () => {})", {
        eval: true,
      });
      exited.push(new Promise((resolve) => w.once('exit', resolve)));
      return w;
    };
    const writer = workerWriter(tempDb(), { deadlineMs: 50, restartPauseMs: 0, spawn: hanging });
    await expect(writer.settle(usage('a'), [DAY])).rejects.toThrow(/did not answer within 50 ms/);
    await exited[0]; // terminated, not left hanging
    await expect(writer.settle(usage('b'), [DAY])).rejects.toThrow(/did not answer within 50 ms/);
    expect(started).toBe(2);
    await exited[1];
  });

  it('fails a batch posted behind an answered one at its own deadline (one timer for all batches)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
    try {
      const posted: Array<Array<{ id: number }>> = [];
      const fake = Object.assign(new EventEmitter(), {
        postMessage: (m: Array<{ id: number }>) => posted.push(m),
        ref: () => {},
        unref: () => {},
        terminate: () => Promise.resolve(1),
      });
      const writer = workerWriter(tempDb(), {
        deadlineMs: 100,
        restartPauseMs: 0,
        spawn: () => fake as unknown as WriterThread,
      });
      const first = writer.settle(usage('a'), [DAY]);
      await vi.advanceTimersByTimeAsync(0); // posted at 0
      await vi.advanceTimersByTimeAsync(60);
      let secondFailed: unknown;
      const second = writer.settle(usage('b'), [DAY]).catch((err: unknown) => {
        secondFailed = err;
      });
      await vi.advanceTimersByTimeAsync(0); // posted at 60
      fake.emit('message', [{ id: posted[0]?.[0]?.id, value: null }]);
      expect(await first).toBeNull();
      // The deadline timer fires at 100: the batch still out is 40 ms old, not late yet.
      await vi.advanceTimersByTimeAsync(95); // 155
      expect(secondFailed).toBeUndefined();
      // At 160 it is.
      await vi.advanceTimersByTimeAsync(10);
      await second;
      expect(String(secondFailed)).toMatch(/did not answer within 100 ms/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('answers batches that queued up while the worker waited in one reply, each call its own answer', async () => {
    const path = tempDb();
    const db = new Database(path);
    applySqliteMigrations(db);
    db.close();
    const replies: Array<Array<{ id: number }>> = [];
    const writer = workerWriter(path, {
      spawn: (data) => {
        const w = spawnWorker(data);
        w.on('message', (m: Array<{ id: number }>) => replies.push(m));
        return w;
      },
    });
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    try {
      await writer.settle(usage('warm-up'), [DAY]); // the worker is up
      const other = new Database(path);
      other.prepare('BEGIN IMMEDIATE').run();
      // The worker waits for the lock with the first batch; two more arrive meanwhile.
      const first = writer.settle(usage('x'), [DAY]);
      await turn();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = writer.settle(usage('y'), [DAY]);
      await turn();
      const third = writer.settle(usage('z'), [DAY]);
      await turn();
      other.prepare('COMMIT').run();
      other.close();
      const spent = (await Promise.all([first, second, third])).map((a) => a?.[DAY]?.spentUsd ?? 0);
      expect(spent.map((v) => Math.round(v * 100))).toEqual([2, 3, 4]);
      // warm-up, the first batch, then the two that waited behind it together.
      expect(replies.map((r) => r.length)).toEqual([1, 1, 2]);
    } finally {
      await writer.close();
    }
  });

  it('terminates a worker that does not finish closing within the deadline, so shutdown ends', async () => {
    let exited: Promise<number> | undefined;
    // Answers every batch at once, but never closes.
    const stubborn = () => {
      const w = new Worker(
        `const { parentPort } = require('node:worker_threads');
         parentPort.on('message', (m) => {
           if (Array.isArray(m)) parentPort.postMessage(m.map((c) => ({ id: c.id, value: null })));
         });`,
        { eval: true },
      );
      exited = new Promise((resolve) => w.once('exit', resolve));
      return w;
    };
    const writer = workerWriter(tempDb(), { deadlineMs: 1_000, spawn: stubborn });
    await writer.settle(usage('a'), [DAY]);
    await writer.close();
    // Terminated, not left running (a thread left running never exits: the test times out).
    expect(typeof (await exited)).toBe('number');
  });

  it('loses no acknowledged usage record when the process is killed with batches in flight', () => {
    const path = tempDb();
    const child = fileURLToPath(new URL('../../helpers/sqlite-worker-kill.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', 'tsx', child, path], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.stderr).toBe('');
    expect(run.signal).toBe('SIGKILL');
    const acked = run.stdout.trim().split('\n');
    expect(acked.length).toBeGreaterThanOrEqual(300);

    const db = new Database(path, { readonly: true });
    try {
      const have = new Set(
        db
          .prepare<[], { request_id: string }>('SELECT request_id FROM usage')
          .all()
          .map((r) => r.request_id),
      );
      expect(acked.filter((id) => !have.has(id))).toEqual([]);
      // Spend moved in the same commits as the rows: exactly one charge per row kept.
      const killed = db
        .prepare<[string], { spent_usd: number }>(
          "SELECT spent_usd FROM spend WHERE key = 'killed' AND period = ?",
        )
        .get(DAY);
      expect(killed?.spent_usd).toBeCloseTo(have.size * 0.001, 9);
    } finally {
      db.close();
    }
  });
});
