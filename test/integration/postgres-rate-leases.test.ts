import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { SlotRequest, Store } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * Rate leases on PostgreSQL (docs/postgres.md#rate-leases): Store instances with pools of their
 * own are replicas on one database, on one fake clock. Busy plans take their rpm and tpm slots
 * from leases; whatever the interleaving, a key's and its group's limits are never exceeded in
 * the minute, and once the leases are trimmed the last slots are served exactly.
 */
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

describe('rate leases shared by several replicas', () => {
  let db: TestDatabase;
  let replicas: Store[] = [];
  let now = T0;
  let seq = 0;
  const open = (n: number): Store[] =>
    Array.from({ length: n }, () => createPostgresStore(db.url, { poolSize: 4, clock: () => now }));

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(replicas.map((s) => s.close()));
    replicas = [];
    now = T0;
    await db.drop();
  });

  const leaseRows = async () =>
    Number(
      (await sql<{ n: string }>(db.url, "SELECT count(*) AS n FROM rate_events WHERE id LIKE 'rlease:%'"))[0]
        ?.n,
    );

  /** One wave: `per` slot requests on every replica at once, alternating two keys of one group. */
  async function wave(per: number, limits: (key: string) => Omit<SlotRequest, 'id' | 'now' | 'leaseUntil'>) {
    const results = await Promise.all(
      replicas.flatMap((s) =>
        Array.from({ length: per }, () => {
          const i = seq++;
          const key = i % 2 ? 'k1' : 'k2';
          return s
            .acquireSlot({ id: `r${i}`, now, leaseUntil: now + 600_000, ...limits(key) })
            .then((r) => ({ key, ok: r.ok, id: `r${i}`, store: s }));
        }),
      ),
    );
    return results;
  }

  it('never admits more than rpm of a key or its group in the minute, and serves the last slots exactly', async () => {
    replicas = open(3);
    await Promise.all(replicas.map((s) => s.init()));
    const limits = (key: string) => ({ key, rpm: 300, group: { subject: '@team', rpm: 480 } });
    const admitted = new Map<string, number>([
      ['k1', 0],
      ['k2', 0],
    ]);
    let refusedWave = false;
    // Busy until the leases come: then most slots are taken from them.
    for (let w = 0; w < 400 && !refusedWave; w++) {
      const rs = await wave(8, limits);
      for (const r of rs) if (r.ok) admitted.set(r.key, (admitted.get(r.key) ?? 0) + 1);
      refusedWave = rs.every((r) => !r.ok);
      now += 20;
      if (w === 5) await waitFor(async () => (await leaseRows()) > 0, 5_000);
    }
    const total = () => (admitted.get('k1') ?? 0) + (admitted.get('k2') ?? 0);
    expect(await leaseRows()).toBeGreaterThan(0);
    expect(admitted.get('k1')).toBeLessThanOrEqual(300);
    expect(admitted.get('k2')).toBeLessThanOrEqual(300);
    expect(total()).toBeLessThanOrEqual(480);

    // The leases stop being taken from at their stamp and are trimmed to what was used: what
    // they held and did not use comes back, and requests one by one take exactly what is left.
    now += 5_000;
    await waitFor(async () => {
      const rows = await sql<{ left: string }>(
        db.url,
        "SELECT 480 - requests AS left FROM rate_counts WHERE key = '@team'",
      );
      return Number(rows[0]?.left) === 480 - total();
    }, 5_000);
    for (let i = 0; i < 600; i++) {
      const key = i % 2 ? 'k1' : 'k2';
      const r = await (replicas[i % 3] as Store).acquireSlot({
        id: `last${i}`,
        now,
        leaseUntil: now + 600_000,
        ...limits(key),
      });
      if (r.ok) admitted.set(key, (admitted.get(key) ?? 0) + 1);
    }
    expect(total()).toBe(480);
    expect(admitted.get('k1')).toBeLessThanOrEqual(300);
    expect(admitted.get('k2')).toBeLessThanOrEqual(300);
  });

  it('gives back the requests a lease did not serve once it is trimmed', async () => {
    replicas = open(2);
    await Promise.all(replicas.map((s) => s.init()));
    const limits = (key: string) => ({ key, rpm: 100_000, group: { subject: '@team', rpm: 100_000 } });
    let admitted = 0;
    for (let w = 0; w < 6; w++) {
      admitted += (await wave(8, limits)).filter((r) => r.ok).length;
      now += 20;
    }
    await waitFor(async () => (await leaseRows()) >= 2, 5_000);
    for (let w = 0; w < 3; w++) {
      admitted += (await wave(8, limits)).filter((r) => r.ok).length;
      now += 20;
    }
    // Past every stamp: each lease is cut to the requests it served, so the group's count is
    // exactly the requests admitted (from leases or one by one).
    now += 5_000;
    await waitFor(async () => {
      const rows = await sql<{ requests: string }>(
        db.url,
        "SELECT requests FROM rate_counts WHERE key = '@team'",
      );
      return Number(rows[0]?.requests) === admitted;
    }, 5_000);
    expect(admitted).toBe(9 * 16);
  });

  it('takes from a lease only before its end by the replica clock, not by when the request arrived', async () => {
    replicas = open(1);
    await Promise.all(replicas.map((s) => s.init()));
    const [a] = replicas as [Store];
    const limits = (key: string) => ({ key, rpm: 100_000 });
    let admitted = 0;
    const arrived = now;
    for (let w = 0; w < 6; w++) {
      admitted += (await wave(8, limits)).filter((r) => r.ok).length;
      now += 20;
    }
    await waitFor(async () => (await leaseRows()) >= 1, 5_000);
    // Past every stamp, the leases trimmed to what they served: their unserved slots are free to
    // every replica again.
    now += 5_000;
    await waitFor(async () => (await counted()) === admitted, 5_000);
    // A request that arrived before the leases ended (its body was slow) takes its slot now: in
    // the database, not from a lease whose room was given back.
    const r = await a.acquireSlot({
      id: 'late',
      key: 'k1',
      rpm: 100_000,
      now: arrived,
      leaseUntil: now + 600_000,
    });
    expect(r.ok).toBe(true);
    const rows = await sql<{ n: string }>(db.url, "SELECT count(*) AS n FROM rate_events WHERE id = 'late'");
    expect(Number(rows[0]?.n)).toBe(1);
    expect(await counted()).toBe(admitted + 1);

    async function counted() {
      const rows = await sql<{ requests: string }>(
        db.url,
        "SELECT coalesce(sum(requests), 0) AS requests FROM rate_counts WHERE key IN ('k1', 'k2')",
      );
      return Number(rows[0]?.requests);
    }
  });

  it('never admits past a limit lowered while leases granted under the old one are out', async () => {
    replicas = open(3);
    await Promise.all(replicas.map((s) => s.init()));
    let rpm = 2_000;
    // One key only (wave's alternation of keys is not used here).
    const limits = (_key: string) => ({ key: 'k1', rpm, group: { subject: '@team', rpm: 100_000 } });
    let admitted = 0;
    for (let w = 0; w < 4; w++) {
      admitted += (await wave(4, limits)).filter((r) => r.ok).length;
      now += 20;
    }
    await waitFor(async () => (await leaseRows()) >= 3, 5_000);
    admitted += (await wave(4, limits)).filter((r) => r.ok).length;
    expect(admitted).toBe(60);
    // A reload lowers the key's rpm to 100 on every replica: its requests no longer match the
    // leases granted under 2,000, which still count whole until trimmed.
    rpm = 100;
    for (let w = 0; w < 60; w++) {
      admitted += (await wave(4, limits)).filter((r) => r.ok).length;
      now += 20;
      expect(admitted).toBeLessThanOrEqual(100);
    }
    // Past the stamps, every lease is trimmed to what it served; then the last slots one by one.
    now += 5_000;
    await waitFor(async () => {
      const rows = await sql<{ requests: string }>(
        db.url,
        "SELECT requests FROM rate_counts WHERE key = 'k1'",
      );
      return Number(rows[0]?.requests) === admitted;
    }, 5_000);
    for (let i = 0; i < 200; i++)
      if (
        (
          await (replicas[i % 3] as Store).acquireSlot({
            id: `z${i}`,
            now,
            leaseUntil: now + 600_000,
            ...limits('k1'),
          })
        ).ok
      )
        admitted++;
    expect(admitted).toBe(100);
  });

  it('counts tpm by the tokens requests really used once their lease is trimmed', async () => {
    replicas = open(2);
    await Promise.all(replicas.map((s) => s.init()));
    const TPM = 200_000;
    const limits = (key: string) => ({ key, tpm: TPM, tokens: 100 });
    let tokens = 0;
    let refusedWave = false;
    for (let w = 0; w < 600 && !refusedWave; w++) {
      const rs = await wave(8, limits);
      // Each request used 40 of the 100 tokens it was admitted with.
      await Promise.all(rs.filter((r) => r.ok).map((r) => r.store.releaseSlot(r.id, r.key, { tokens: 40 })));
      tokens += 40 * rs.filter((r) => r.ok && r.key === 'k1').length;
      refusedWave = rs.every((r) => !r.ok);
      now += 20;
      if (w === 5) await waitFor(async () => (await leaseRows()) === 0 && (await tokenLeases()) > 0, 5_000);
    }
    expect(await tokenLeases()).toBeGreaterThan(0);
    // Whatever was admitted, k1's counted tokens (leases trimmed to real use, requests by their
    // real tokens) never pass the limit, and after the trims equal what its requests used.
    now += 5_000;
    await waitFor(async () => {
      const rows = await sql<{ tokens: string }>(db.url, "SELECT tokens FROM rate_counts WHERE key = 'k1'");
      return Number(rows[0]?.tokens) === tokens;
    }, 5_000);
    expect(tokens).toBeLessThanOrEqual(TPM);

    async function tokenLeases() {
      return Number(
        (
          await sql<{ n: string }>(db.url, "SELECT count(*) AS n FROM token_events WHERE id LIKE 'rlease:%'")
        )[0]?.n,
      );
    }
  });

  it('stops serving a key from its leases once it is disabled on any replica, and trims them to what they served', async () => {
    replicas = open(2);
    await Promise.all(replicas.map((s) => s.init()));
    const [a, b] = replicas as [Store, Store];
    // As the gateway does (policy/disables.ts): every replica listens for disables.
    const unsubscribe = [a.onDisabledChange(() => {}), b.onDisabledChange(() => {})];
    const limits = (key: string) => ({ key, rpm: 100_000 });
    let served = 0;
    for (let w = 0; w < 6; w++) {
      served += (await wave(8, limits)).filter((r) => r.ok && r.key === 'k1').length;
      now += 20;
    }
    await waitFor(async () => (await leaseRows()) >= 2, 5_000);
    // The leases hold slots they have not served yet (the clock stays before their stamps). A
    // lease sized to the recent rate can be used up by the last wave: more waves (bounded) until
    // one is granted with room to spare, so the trim below has something to give back.
    for (let w = 0; w < 40 && (await counted('k1')) <= served; w++) {
      served += (await wave(8, limits)).filter((r) => r.ok && r.key === 'k1').length;
      now += 20;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(await counted('k1')).toBeGreaterThan(served);
    await b.setDisabled({ key: 'k1', reason: 'test', by: 'U1', source: 'slack', at: now });
    // Both replicas hear of it (LISTEN/NOTIFY) and trim k1's leases to what they served: the
    // unserved slots come back at once, not when the rows age out of the minute.
    await waitFor(async () => (await counted('k1')) === served, 5_000);
    // From then on each of its k1 requests is counted in the database on its own.
    await a.acquireSlot({ id: `after${seq++}`, key: 'k1', rpm: 100_000, now, leaseUntil: now + 600_000 });
    expect(await counted('k1')).toBe(served + 1);
    for (const u of unsubscribe) u();
  });

  it('trims its leases to what they served when a replica closes', async () => {
    replicas = open(1);
    await Promise.all(replicas.map((s) => s.init()));
    const [a] = replicas as [Store];
    const limits = (key: string) => ({ key, rpm: 100_000 });
    let served = 0;
    for (let w = 0; w < 6; w++) {
      served += (await wave(8, limits)).filter((r) => r.ok).length;
      now += 20;
    }
    await waitFor(async () => (await leaseRows()) >= 1, 5_000);
    // A lease sized to the recent rate can be used up by the last wave: more waves (bounded) until
    // one holds slots it has not served, so closing has something to give back.
    const total = async () => (await counted('k1')) + (await counted('k2'));
    for (let w = 0; w < 40 && (await total()) <= served; w++) {
      served += (await wave(8, limits)).filter((r) => r.ok).length;
      now += 20;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(await total()).toBeGreaterThan(served);
    replicas = [];
    await a.close();
    expect(await total()).toBe(served);
  });

  async function counted(key: string) {
    const rows = await sql<{ requests: string }>(
      db.url,
      `SELECT requests FROM rate_counts WHERE key = '${key}'`,
    );
    return Number(rows[0]?.requests ?? 0);
  }
});
