import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGroupCommit } from '../../../src/store/sqlite/group-commit.js';

describe('SQLite group commit', () => {
  let dir: string;
  let db: Database.Database;
  let statements: string[];
  let insert: (x: number) => number;
  const count = () => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
  const commits = () => statements.filter((s) => s === 'COMMIT').length;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-group-'));
    statements = [];
    db = new Database(join(dir, 'g.db'), { verbose: (s) => statements.push(String(s)) });
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x INTEGER PRIMARY KEY)');
    const stmt = db.prepare<[number]>('INSERT INTO t (x) VALUES (?)');
    insert = db.transaction((x: number) => {
      stmt.run(x);
      return x * 10;
    });
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the calls of one event-loop turn in one transaction and answers each after the commit', async () => {
    const group = createGroupCommit(db);
    const pending = [1, 2, 3].map((x) => group.run(() => insert(x)));
    expect(count()).toBe(0); // nothing runs before the end of the turn
    expect(await Promise.all(pending)).toEqual([10, 20, 30]);
    expect(count()).toBe(3);
    expect(commits()).toBe(1);
    expect(statements).toContain('BEGIN IMMEDIATE');

    await group.run(() => insert(4));
    expect(commits()).toBe(2);
  });

  it('rejects only the call that failed, undoing its own statements and keeping the others', async () => {
    const group = createGroupCommit(db);
    const failing = db.transaction(() => {
      insert(7);
      throw new Error('refused midway');
    });
    const results = await Promise.allSettled([
      group.run(() => insert(1)),
      group.run(() => failing()),
      group.run(() => insert(1)), // duplicate primary key
      group.run(() => insert(2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('refused midway'));
    expect(db.prepare('SELECT x FROM t ORDER BY x').pluck().all()).toEqual([1, 2]);
  });

  it('rejects every call of a batch whose transaction cannot commit, and keeps none of it', async () => {
    const other = new Database(join(dir, 'g.db'));
    db.pragma('busy_timeout = 0');
    other.exec('BEGIN IMMEDIATE'); // another process holds the write lock
    try {
      const group = createGroupCommit(db);
      const results = await Promise.allSettled([group.run(() => insert(1)), group.run(() => insert(2))]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/locked|busy/i);
      // One attempt for the batch, not one more per call: each would wait out busy_timeout.
      expect(statements.filter((s) => s === 'BEGIN IMMEDIATE')).toHaveLength(1);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(count()).toBe(0);
  });

  it('flush commits what is queued at once, so closing the database loses nothing', async () => {
    const group = createGroupCommit(db);
    const pending = group.run(() => insert(5));
    group.flush();
    db.close();
    expect(await pending).toBe(50);
    const reopened = new Database(join(dir, 'g.db'));
    try {
      expect(reopened.prepare('SELECT x FROM t').pluck().all()).toEqual([5]);
    } finally {
      reopened.close();
    }
  });
});
