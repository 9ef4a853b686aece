import { describe, expect, it } from 'vitest';
import { switchToWal } from '../../../src/store/sqlite/wal-mode.js';

const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

/** A connection whose journal_mode pragma throws SQLITE_BUSY `busyTimes` times, then answers `mode`. */
function connection(busyTimes: number, mode = 'wal') {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    pragma(source: string) {
      expect(source).toBe('journal_mode = WAL');
      calls++;
      if (calls <= busyTimes) throw busy();
      return mode;
    },
  };
}

describe('switchToWal', () => {
  it('tries again while SQLite answers SQLITE_BUSY, until the switch succeeds', () => {
    const db = connection(3);
    switchToWal(db, 5000);
    expect(db.calls).toBe(4);
  });

  it('gives up with SQLite error once the wait is over', () => {
    const db = connection(Number.POSITIVE_INFINITY);
    let err: unknown;
    try {
      switchToWal(db, 30);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('SQLITE_BUSY');
    expect(db.calls).toBeGreaterThan(1);
  });

  it('does not retry other errors', () => {
    const db = {
      calls: 0,
      pragma() {
        this.calls++;
        throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      },
    };
    expect(() => switchToWal(db, 5000)).toThrow('disk I/O error');
    expect(db.calls).toBe(1);
  });

  it('fails when the file is left in another journal mode', () => {
    expect(() => switchToWal(connection(0, 'delete'), 5000)).toThrow(
      "SQLite left the journal mode 'delete' when asked for 'wal'",
    );
  });
});
