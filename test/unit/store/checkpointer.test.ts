import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startCheckpointer } from '../../../src/store/sqlite/checkpointer.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A WAL database whose own connection never checkpoints, as the store opens it. */
function openWal(): { db: Database.Database; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-ckpt-'));
  dirs.push(dir);
  const path = join(dir, 't.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  return { db, path };
}

/** `n` commits of one 2 KiB row each: about one WAL page per commit. */
function writeCommits(db: Database.Database, n: number): void {
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const row = 'x'.repeat(2048);
  for (let i = 0; i < n; i++) insert.run(row);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the WAL checkpoint worker', () => {
  it('copies the WAL into the database from its own thread, and the next commit restarts the WAL', async () => {
    const { db, path } = openWal();
    const ckpt = startCheckpointer(path, { everyMs: 20 });
    try {
      writeCommits(db, 300);
      await sleep(200);
      const after = await ckpt.stats();
      expect(after.passive).toBeGreaterThan(0);
      expect(after.lastFrames).toBeGreaterThan(100);
      expect(after.lastBackfilled).toBe(after.lastFrames);
      // Everything was copied, so this commit starts the WAL over at its first frame.
      writeCommits(db, 1);
      await sleep(100);
      expect((await ckpt.stats()).lastFrames).toBeLessThan(10);
      expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 301 });
    } finally {
      await ckpt.close();
      db.close();
    }
  });

  it('keeps the WAL from growing: it is copied and restarted between bursts of commits', async () => {
    // Control: the same commits with nobody checkpointing.
    const control = openWal();
    writeCommits(control.db, 3000);
    const unchecked = statSync(`${control.path}-wal`).size;
    control.db.close();

    const { db, path } = openWal();
    const ckpt = startCheckpointer(path, { everyMs: 10 });
    try {
      for (let i = 0; i < 30; i++) {
        writeCommits(db, 100);
        await sleep(40);
      }
      // A few bursts' worth at most, against all 3,000 commits without the worker.
      expect(statSync(`${path}-wal`).size).toBeLessThan(unchecked / 4);
      expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 3000 });
    } finally {
      await ckpt.close();
      db.close();
    }
  });

  it('stops on close after a last checkpoint, leaving nothing uncopied', async () => {
    const { db, path } = openWal();
    const ckpt = startCheckpointer(path, { everyMs: 60_000 });
    writeCommits(db, 50);
    await ckpt.close();
    await expect(ckpt.stats()).rejects.toThrow(/exited/);
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>;
    expect(row?.checkpointed).toBe(row?.log);
    db.close();
  });
});
