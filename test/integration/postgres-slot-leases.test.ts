import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { SlotRequest, Store } from '../../src/store/types.js';
import { createTestDatabase, startTcpProxy, type TestDatabase, viaPort } from '../helpers/pg.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * Slot leases on PostgreSQL (docs/postgres.md#rate-leases, migration 23): Store instances with
 * pools of their own are replicas on one database. A busy plan with max_parallel takes and frees
 * its slots from blocks its replica leases; whatever the interleaving, the requests in flight
 * across the fleet never pass a key's or its group's max_parallel, a dead replica's free slots
 * come back within the slot expiry, and a disabled key's leased slots go back at once.
 */
const EXPIRY_MS = 5_000;

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('max_parallel slot leases shared by several replicas', () => {
  let db: TestDatabase;
  let replicas: Store[] = [];
  let seq = 0;

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(replicas.map((s) => s.close()));
    replicas = [];
    await db.drop();
  });

  const leasedRows = async (key?: string) =>
    Number(
      (
        await sql<{ n: string }>(
          db.url,
          `SELECT count(*) AS n FROM inflight WHERE id LIKE 'slease:%'${key ? ` AND key = '${key}'` : ''}`,
        )
      )[0]?.n,
    );
  const served = (s: Store) => s.rateLeaseHoldings?.().slotsServed ?? 0;
  const held = (s: Store) => s.rateLeaseHoldings?.().slots ?? 0;

  /**
   * `workers` loops per replica and key, each taking a slot, holding it a few milliseconds and
   * freeing it, for `rounds` requests; the requests in flight per key and per group are counted
   * across every replica, and their highest values kept.
   */
  async function load(
    stores: Store[],
    limits: (key: string) => Omit<SlotRequest, 'id' | 'now' | 'leaseUntil'>,
    keys: string[],
    workers: number,
    rounds: number,
    peak: Map<string, number>,
  ): Promise<{ ok: number; refused: number }> {
    const inFlight = new Map<string, number>();
    let ok = 0;
    let refused = 0;
    const move = (subject: string, d: number) => {
      const n = (inFlight.get(subject) ?? 0) + d;
      inFlight.set(subject, n);
      peak.set(subject, Math.max(peak.get(subject) ?? 0, n));
    };
    await Promise.all(
      stores.flatMap((s) =>
        keys.flatMap((key) =>
          Array.from({ length: workers }, async () => {
            for (let i = 0; i < rounds; i++) {
              const id = `r${seq++}`;
              const l = limits(key);
              const now = Date.now();
              const r = await s.acquireSlot({ id, now, leaseUntil: now + 600_000, ...l });
              if (!r.ok) {
                refused++;
                await pause(1 + (i % 3));
                continue;
              }
              ok++;
              move(key, 1);
              if (l.group) move(l.group.subject, 1);
              await pause(1 + (i % 4));
              move(key, -1);
              if (l.group) move(l.group.subject, -1);
              await s.releaseSlot(id, key, l.group ? { group: l.group.subject } : {});
            }
          }),
        ),
      ),
    );
    return { ok, refused };
  }

  for (const n of [2, 3]) {
    it(`never has more requests in flight than max_parallel across ${n} replicas, for a key and for a group`, async () => {
      replicas = Array.from({ length: n }, () => createPostgresStore(db.url, { poolSize: 4 }));
      await Promise.all(replicas.map((s) => s.init()));
      const limits = (key: string) => ({
        key,
        maxParallel: 10,
        rpm: 1_000_000,
        group: { subject: '@team', maxParallel: 14 },
      });
      const peak = new Map<string, number>();
      // Light load first (the leases come), then more workers than slots (the limits are hit).
      const light = await load(replicas, limits, ['k1', 'k2'], 1, 80, peak);
      expect(light.ok).toBeGreaterThan(0);
      const heavy = await load(replicas, limits, ['k1', 'k2'], 8, 40, peak);
      expect(heavy.refused).toBeGreaterThan(0);
      expect(peak.get('k1')).toBeLessThanOrEqual(10);
      expect(peak.get('k2')).toBeLessThanOrEqual(10);
      expect(peak.get('@team')).toBeLessThanOrEqual(14);
      // The group was at its limit, and slots were served from leases.
      expect(peak.get('@team')).toBeGreaterThanOrEqual(12);
      expect(replicas.reduce((a, s) => a + served(s), 0)).toBeGreaterThan(0);
      // Once every request ended and the replicas closed, no slot is left taken.
      await Promise.all(replicas.map((s) => s.close()));
      replicas = [];
      expect(Number((await sql<{ n: string }>(db.url, 'SELECT count(*) AS n FROM inflight'))[0]?.n)).toBe(0);
    });
  }

  it('serves a busy key from a slot lease, with far fewer slot calls to the database than requests', async () => {
    await sql(db.url, `ALTER DATABASE ${db.name} SET track_functions = 'pl'`);
    replicas = [createPostgresStore(db.url, { poolSize: 4 })];
    const [a] = replicas as [Store];
    await a.init();
    const peak = new Map<string, number>();
    const r = await load(replicas, (key) => ({ key, maxParallel: 40 }), ['k1'], 4, 150, peak);
    expect(r.ok).toBe(600);
    const fromLeases = served(a);
    // Closed: its backends exit, which flushes their function counts.
    await a.close();
    replicas = [];
    const calls = async (names: string[]) =>
      Number(
        (
          await sql<{ calls: string }>(
            db.url,
            `SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_user_functions WHERE funcname IN (${names.map((n) => `'${n}'`).join(', ')})`,
          )
        )[0]?.calls,
      );
    const slotCalls = () =>
      calls(['tollgate_acquire_many', 'tollgate_acquire_slots', 'tollgate_release_slots']);
    // Without leases each request releases its slot in its own call: 600 at least.
    await waitFor(async () => (await calls(['tollgate_slot_round'])) > 0, 5_000);
    expect(fromLeases).toBeGreaterThan(450);
    // Half of that at most: on a loaded machine the first lease comes later (84 calls here idle,
    // 178 once with other work on both cores).
    expect(await slotCalls()).toBeLessThan(300);
    expect(peak.get('k1')).toBeLessThanOrEqual(40);
  });

  it('frees the slots a dead replica leased within the slot expiry', async () => {
    let now = Date.UTC(2026, 10, 26, 12, 0, 0);
    // The replica that dies reaches the database through a proxy, cut when it dies: no round of
    // its own renews or gives back anything after that. The survivor leases nothing (exact counts).
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    const dead = createPostgresStore(viaPort(db.url, proxy.port), { poolSize: 4, clock: () => now });
    const survivor = createPostgresStore(db.url, { poolSize: 4, clock: () => now, leaseHorizonMs: 0 });
    replicas = [survivor];
    await Promise.all([dead, survivor].map((s) => s.init()));
    const limits = { key: 'k1', maxParallel: 12 };
    // Busy on the replica that will die, until it holds leased slots.
    for (let w = 0; w < 200 && held(dead) < 2; w++) {
      const ids = Array.from({ length: 2 }, () => `d${seq++}`);
      const rs = await Promise.all(
        ids.map((id) => dead.acquireSlot({ id, now, leaseUntil: now + 600_000, ...limits })),
      );
      await Promise.all(ids.map((id, i) => (rs[i]?.ok ? dead.releaseSlot(id, 'k1') : Promise.resolve())));
      now += 10;
      await pause(10);
    }
    expect(held(dead)).toBeGreaterThanOrEqual(2);
    // One request in flight on a leased slot when it dies, with a lease of its own of 2 s.
    const servedBefore = served(dead);
    await dead.acquireSlot({ id: 'lost', now, leaseUntil: now + 2_000, ...limits });
    expect(served(dead)).toBe(servedBefore + 1);
    // Its rounds have stamped every leased row with the slot expiry (or the lost request's lease).
    await waitFor(async () => {
      const rows = await sql<{ until: string }>(
        db.url,
        "SELECT max(lease_until) AS until FROM inflight WHERE key = 'k1' AND id LIKE 'slease:%'",
      );
      return Number(rows[0]?.until) <= now + EXPIRY_MS;
    }, 5_000);
    proxy.cut();
    const leased = await leasedRows('k1');
    expect(leased).toBeGreaterThanOrEqual(2);
    const grab = async (tag: string) => {
      const rs = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          survivor.acquireSlot({ id: `${tag}${i}`, now, leaseUntil: now + 600_000, ...limits }),
        ),
      );
      const ids = rs.flatMap((r, i) => (r.ok ? [`${tag}${i}`] : []));
      await Promise.all(ids.map((id) => survivor.releaseSlot(id, 'k1')));
      return ids.length;
    };
    // Its slots still count for the others, then are free once the expiry has passed.
    expect(await grab('s')).toBe(12 - leased);
    now += EXPIRY_MS + 1;
    expect(await grab('t')).toBe(12);
    await dead.close().catch(() => {});
    await proxy.close();
  });

  it('gives back slots leased under a max_parallel a reload lowered, and never passes the new one', async () => {
    replicas = [createPostgresStore(db.url, { poolSize: 4 }), createPostgresStore(db.url, { poolSize: 4 })];
    await Promise.all(replicas.map((s) => s.init()));
    let maxParallel = 30;
    const limits = (key: string) => ({ key, maxParallel });
    const peak = new Map<string, number>();
    await load(replicas, limits, ['k1'], 3, 40, peak);
    await waitFor(async () => (await leasedRows('k1')) > 0, 5_000);
    const old = (
      await sql<{ id: string }>(db.url, "SELECT id FROM inflight WHERE key = 'k1' AND id LIKE 'slease:%'")
    ).map((r) => `'${r.id}'`);
    // The reload: every replica's requests now carry max_parallel 4.
    maxParallel = 4;
    const after = new Map<string, number>();
    const r = await load(replicas, limits, ['k1'], 4, 40, after);
    expect(r.ok).toBeGreaterThan(0);
    expect(after.get('k1')).toBeLessThanOrEqual(4);
    // The slots leased under 30 went back (their plan was replaced), none waits for its expiry.
    await waitFor(
      async () =>
        Number(
          (
            await sql<{ n: string }>(
              db.url,
              `SELECT count(*) AS n FROM inflight WHERE key = 'k1' AND id IN (${old.join(', ')})`,
            )
          )[0]?.n,
        ) === 0,
      2_000,
    );
  });

  it("gives a disabled key's leased slots back within a second, and serves it in the database from then on", async () => {
    replicas = [createPostgresStore(db.url, { poolSize: 4 }), createPostgresStore(db.url, { poolSize: 4 })];
    const [a, b] = replicas as [Store, Store];
    await Promise.all(replicas.map((s) => s.init()));
    const unsubscribe = [a.onDisabledChange(() => {}), b.onDisabledChange(() => {})];
    const limits = (key: string) => ({ key, maxParallel: 40 });
    const peak = new Map<string, number>();
    await load([a], limits, ['k1'], 4, 30, peak);
    await waitFor(async () => (await leasedRows('k1')) > 0, 5_000);
    await b.setDisabled({ key: 'k1', reason: 'test', by: 'U1', source: 'slack', at: Date.now() });
    const took = await waitFor(async () => (await leasedRows('k1')) === 0, 1_000);
    expect(took).toBeLessThanOrEqual(1_000);
    expect(held(a)).toBe(0);
    const servedBefore = served(a);
    const now = Date.now();
    expect((await a.acquireSlot({ id: 'after', now, leaseUntil: now + 600_000, ...limits('k1') })).ok).toBe(
      true,
    );
    expect(served(a)).toBe(servedBefore);
    const rows = await sql<{ n: string }>(db.url, "SELECT count(*) AS n FROM inflight WHERE id = 'after'");
    expect(Number(rows[0]?.n)).toBe(1);
    for (const u of unsubscribe) u();
  });
});
