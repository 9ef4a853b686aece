import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { canned, type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, standardYaml, startGateway } from '../helpers/gateway-harness.js';

/**
 * A full disk under the SQLite store, for real: a 600 KB tmpfs (CI runs as root, so the test may
 * mount one), filled while requests are in flight, so that their reservations are in the store and
 * their settles are refused with SQLITE_FULL. A small tmpfs rather than `PRAGMA max_page_count`:
 * the page limit only bounds the main file, while on a full disk it is the WAL that cannot grow
 * (and the checkpointer that cannot write), which is what the gateway met.
 */

/** A fresh 600 KB tmpfs at a new temp dir; `mounted` is false where this process may not mount. */
function mountTmpfs(): { mnt: string; mounted: boolean } {
  const mnt = mkdtempSync(join(tmpdir(), 'tollgate-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=600k', 'tmpfs', mnt], { stdio: 'ignore' });
    return { mnt, mounted: true };
  } catch {
    // Not root (a developer machine): the test says so and is skipped; CI runs it.
    return { mnt, mounted: false };
  }
}

/** Writes filler files until the disk at `mnt` is full; returns them, to free the space later. */
function fillDisk(mnt: string): string[] {
  const files: string[] = [];
  for (let i = 0; ; i++) {
    const file = join(mnt, `filler-${i}`);
    try {
      writeFileSync(file, Buffer.alloc(4096, 1));
      files.push(file);
    } catch {
      rmSync(file, { force: true });
      return files;
    }
  }
}

/*
 * Both writers, each on a disk of its own: the write worker (more than one CPU) and the group
 * commit on the event loop's own connection (one CPU: a 1-vCPU host, or taskset), whatever the
 * machine running the test has.
 */
describe.each([
  ['the write worker', { cpus: 2 }],
  ['one CPU, on the event loop', { cpus: 1 }],
])('the SQLite store on a full disk (%s)', (_name, writer) => {
  const { mnt, mounted } = mountTmpfs();
  let upstream: FakeUpstream;
  let store: Store;
  let gw: Harness;

  beforeAll(async () => {
    if (!mounted) return;
    upstream = await startFakeUpstream();
    store = createSqliteStore(join(mnt, 'tollgate.db'), { writer });
    await store.init();
    gw = await startGateway({ yaml: standardYaml(upstream.baseUrl), store });
  });

  afterAll(async () => {
    if (mounted) {
      await gw?.close();
      await store?.close();
      await upstream?.close();
      execFileSync('umount', [mnt]);
    }
    rmSync(mnt, { recursive: true, force: true });
  });

  it.skipIf(!mounted)(
    'settles every answered request with its real usage once space returns, leaving no reservation held',
    async () => {
      const IN_FLIGHT = 12;
      let open!: () => void;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      for (let i = 0; i < IN_FLIGHT; i++)
        upstream.next(async (req, res) => {
          await gate;
          await canned(req, res);
        });
      const answers = Array.from({ length: IN_FLIGHT }, () =>
        fetch(`${gw.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${gw.keys['cursor-dev']}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
        }),
      );
      // Every request is reserved and forwarded: its reservation is in the store.
      await upstream.waitForRequests(IN_FLIGHT);
      // The WAL is emptied and truncated first (a TRUNCATE checkpoint), so the settles need new
      // space on the disk rather than reusing frames the WAL file already has.
      const side = new Database(join(mnt, 'tollgate.db'));
      side.pragma('wal_checkpoint(TRUNCATE)');
      side.close();
      const filler = fillDisk(mnt);
      open();
      const statuses = await Promise.all(
        answers.map(async (pending) => {
          const res = await pending;
          await res.text();
          return res.status;
        }),
      );
      expect(statuses).toEqual(Array(IN_FLIGHT).fill(200));
      const db = () => new Database(join(mnt, 'tollgate.db'), { readonly: true, fileMustExist: true });
      const count = (sql: string) => {
        const d = db();
        try {
          return (d.prepare(sql).get() as { n: number }).n;
        } finally {
          d.close();
        }
      };
      // The settles were refused: the reservations are still held, the records wait in memory.
      expect(count('SELECT COUNT(*) AS n FROM reservations')).toBe(IN_FLIGHT);
      expect(gw.logLines.some((l) => l.includes('database or disk is full'))).toBe(true);

      // The disk stays full for a while (long past the writer's old give-up point), then frees.
      await new Promise((r) => setTimeout(r, 1_500));
      for (const f of filler) rmSync(f);
      await gw.gateway.drain(5_000);

      expect(count('SELECT COUNT(*) AS n FROM reservations')).toBe(0);
      expect(count("SELECT COUNT(*) AS n FROM usage WHERE status = 200 AND usage_source = 'provider'")).toBe(
        IN_FLIGHT,
      );
      expect(gw.logLines.filter((l) => /"level":60/.test(l))).toEqual([]);
    },
    30_000,
  );
});
