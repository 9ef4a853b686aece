import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { BudgetWindow, Store, UsageRecord } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * Budget leases on PostgreSQL (docs/postgres.md#budget-leases): Store instances with pools of
 * their own are replicas on one database. Busy keys are served from leases; whatever the
 * interleaving, no window of a key or of its group is ever exceeded, every settled cost is
 * charged, and what a dead replica leased is charged or returned once its lease expires.
 */
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const DAY = 'd:2026-11-26';
const GROUP_DAY = '@team/d:2026-11-26';
const periods = [GROUP_DAY, DAY, 'm:2026-11'];

function usage(id: string, key: string, costUsd: number): UsageRecord {
  return {
    requestId: id,
    ts: T0,
    day: '2026-11-26',
    key,
    model: 'm',
    upstream: 'u',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 10,
    outputTokens: 10,
    cachedTokens: 0,
    costUsd,
    latencyMs: 1,
    stream: false,
    userAgent: null,
    ip: null,
    configRevision: 'r',
    usageSource: 'provider',
    requestFp: 'fp-request',
    outputLimit: 100,
  };
}

const windowsOf = (keyLimit: number, groupLimit: number): BudgetWindow[] => [
  { period: DAY, limitUsd: keyLimit },
  { period: GROUP_DAY, limitUsd: groupLimit },
];

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

describe('budget leases shared by several replicas', () => {
  let db: TestDatabase;
  let replicas: Store[] = [];
  let now = T0;
  const open = (n: number): Store[] =>
    Array.from({ length: n }, () => createPostgresStore(db.url, { poolSize: 4, clock: () => now }));
  let seq = 0;

  // A database each: every test starts from nothing spent.
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(replicas.map((s) => s.close()));
    replicas = [];
    now = T0;
    await db.drop();
  });

  /** One request through a replica: reserve, then settle at `costShare` of the amount if admitted. */
  async function request(s: Store, key: string, amountUsd: number, windows: BudgetWindow[], costShare = 0.5) {
    const id = `q${seq++}`;
    const r = await s.reserve({ id, key, amountUsd, windows, periods, leaseUntil: now + 600_000 });
    if (!r.ok) return 0;
    const cost = Math.round(amountUsd * costShare * 1e6) / 1e6;
    await s.settle(usage(id, key, cost), periods);
    return cost;
  }

  const spendOf = async (s: Store, key: string) => s.getSpend(key, [DAY, GROUP_DAY]);

  it('serves a busy key from a lease and charges every settled cost exactly', async () => {
    replicas = open(1);
    const [s] = replicas as [Store];
    await s.init();
    const windows = windowsOf(10, 20);
    let charged = 0;
    for (let i = 0; i < 8; i++) charged += await request(s, 'alpha', 0.01, windows, 0.4);
    await waitFor(() => (s.leaseHoldings?.().leases ?? 0) > 0, 5_000);
    const before = await spendOf(s, 'alpha');
    // The lease is counted as reserved in the key's and the group's windows.
    expect(before[DAY]!.reservedUsd).toBeGreaterThan(0);
    expect(before[GROUP_DAY]!.reservedUsd).toBe(before[DAY]!.reservedUsd);
    const costs = await Promise.all(
      Array.from({ length: 40 }, () => request(s, 'alpha', 0.01, windows, 0.4)),
    );
    charged += costs.reduce((a, b) => a + b, 0);
    const after = await spendOf(s, 'alpha');
    expect(after[DAY]!.spentUsd).toBeCloseTo(charged, 9);
    expect(after[GROUP_DAY]!.spentUsd).toBeCloseTo(charged, 9);
    const rows = await sql(db.url, 'SELECT count(*)::int AS n, sum(cost_usd)::float8 AS c FROM usage');
    expect(rows[0]).toEqual({ n: 48, c: expect.closeTo(charged, 9) });
    // Leased or not, a usage record keeps every column (usage-columns.ts).
    const kept = await sql(
      db.url,
      "SELECT count(*)::int AS n FROM usage WHERE request_fp = 'fp-request' AND output_limit = 100",
    );
    expect(kept[0]).toEqual({ n: 48 });
    await s.close();
    // Closing returns what the lease still held: nothing stays reserved.
    const reader = createPostgresStore(db.url, { poolSize: 1 });
    const closed = await spendOf(reader, 'alpha');
    await reader.close();
    expect(closed[DAY]).toEqual({ spentUsd: expect.closeTo(charged, 9), reservedUsd: 0 });
  });

  it('sends one leased settle batch at a time: the settles that arrive meanwhile go together as the next', async () => {
    // The default pool (10): reserve and slot batches may run two at once, leased settles one.
    // A batch that a loaded machine keeps out past 200 ms rightly lets the next go beside it (the
    // next test): here that threshold is out of reach, so only the one-at-a-time rule is seen.
    const s = createPostgresStore(db.url, { clock: () => now, budgetLeases: { settleStallMs: 60_000 } });
    replicas = [s];
    await s.init();
    const windows = windowsOf(10, 20);
    let charged = 0;
    for (let i = 0; i < 8; i++) charged += await request(s, 'alpha', 0.01, windows, 0.4);
    await waitFor(() => (s.leaseHoldings?.().leases ?? 0) > 0, 5_000);
    // Every tollgate_settle_leased statement is held back a little on its way to the database,
    // so later settles arrive while it is in flight; counted: how many run at once, and how many.
    const original = pg.Client.prototype.query;
    let inFlight = 0;
    let most = 0;
    let batches = 0;
    const patched = function (this: pg.Client, q: unknown, ...rest: unknown[]) {
      const cb = rest.at(-1);
      if ((q as { name?: string } | null)?.name !== 'tollgate_settle_leased' || typeof cb !== 'function')
        return (original as (...a: unknown[]) => unknown).call(this, q, ...rest);
      batches++;
      inFlight++;
      most = Math.max(most, inFlight);
      rest[rest.length - 1] = (...args: unknown[]) => {
        inFlight--;
        return (cb as (...a: unknown[]) => unknown)(...args);
      };
      setTimeout(() => (original as (...a: unknown[]) => unknown).call(this, q, ...rest), 50);
      return undefined;
    };
    pg.Client.prototype.query = patched as typeof original;
    try {
      const costs = await Promise.all(
        Array.from({ length: 30 }, () => request(s, 'alpha', 0.01, windows, 0.4)),
      );
      charged += costs.reduce((a, b) => a + b, 0);
    } finally {
      pg.Client.prototype.query = original;
    }
    expect(most).toBe(1);
    // The first settle alone (nothing was in flight), then everything that queued behind it: two
    // batches, or three when a loaded machine spread the 30 requests past the first one's return.
    expect(batches).toBeGreaterThanOrEqual(2);
    expect(batches).toBeLessThanOrEqual(3);
    const after = await spendOf(s, 'alpha');
    expect(after[DAY]!.spentUsd).toBeCloseTo(charged, 9);
  });

  it('lets the next leased settle batch go beside one that stalls, before the deadline', async () => {
    // One batch at a time only while the database answers: a stalled connection must not hold
    // every other settle of the replica, of any key, until the statement timeout fails them.
    // A small pool (a quarter of it is 1): the lane beside a stalled batch is there all the same.
    const s = createPostgresStore(db.url, { clock: () => now, statementTimeoutMs: 1_000, poolSize: 4 });
    replicas = [s];
    await s.init();
    const windows = windowsOf(10, 20);
    for (let i = 0; i < 8; i++) await request(s, 'alpha', 0.01, windows, 0.4);
    for (let i = 0; i < 8; i++) await request(s, 'beta', 0.01, windows, 0.4);
    await waitFor(() => (s.leaseHoldings?.().leases ?? 0) >= 2, 5_000);
    const reserved = async (key: string) => {
      const id = `q${seq++}`;
      const r = await s.reserve({ id, key, amountUsd: 0.01, windows, periods, leaseUntil: now + 600_000 });
      expect(r.ok).toBe(true);
      return id;
    };
    const a = await reserved('alpha');
    const b = await reserved('beta');
    // The first leased settle statement is held 1.8 s on its way (pg's own query timeout is the
    // statement timeout + 1 s); nothing else is slow.
    const original = pg.Client.prototype.query;
    let held = 0;
    pg.Client.prototype.query = function (this: pg.Client, q: unknown, ...rest: unknown[]) {
      if ((q as { name?: string } | null)?.name === 'tollgate_settle_leased' && held++ === 0) {
        setTimeout(() => (original as (...x: unknown[]) => unknown).call(this, q, ...rest), 1_800);
        return undefined;
      }
      return (original as (...x: unknown[]) => unknown).call(this, q, ...rest);
    } as typeof original;
    try {
      const first = s.settle(usage(a, 'alpha', 0.004), periods).then(
        () => 'ok',
        (e: unknown) => String(e),
      );
      await new Promise((r) => setTimeout(r, 20));
      const second = await s.settle(usage(b, 'beta', 0.004), periods).then(
        () => 'ok',
        (e: unknown) => String(e),
      );
      expect(second).toBe('ok');
      // The stalled one fails at its deadline (the gateway's usage writer sends it again).
      await first;
    } finally {
      pg.Client.prototype.query = original;
    }
    const rows = await sql<{ n: number }>(
      db.url,
      `SELECT count(*)::int AS n FROM usage WHERE request_id = '${b}'`,
    );
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('never lets three replicas under concurrent load exceed a key window or the group window', async () => {
    replicas = open(3);
    await Promise.all(replicas.map((s) => s.init()));
    const limits = { alpha: 0.6, beta: 0.5 };
    const groupLimit = 0.8;
    let leased = 0;
    const spent = { alpha: 0, beta: 0 };
    // Each replica sends waves of concurrent requests of both keys until nothing is admitted.
    for (let wave = 0; wave < 40; wave++) {
      const admitted = await Promise.all(
        replicas.flatMap((s, r) =>
          (['alpha', 'beta'] as const).flatMap((key) =>
            Array.from({ length: 6 }, async (_, i) => {
              const amount = 0.004 + ((wave * 7 + r * 3 + i) % 5) * 0.002;
              const cost = await request(
                s,
                key,
                amount,
                windowsOf(limits[key], groupLimit),
                ((i % 4) + 1) / 4,
              );
              spent[key] += cost;
              return cost;
            }),
          ),
        ),
      );
      leased = Math.max(leased, ...replicas.map((s) => s.leaseHoldings?.().leases ?? 0));
      const a = await spendOf(replicas[0] as Store, 'alpha');
      const b = await spendOf(replicas[1] as Store, 'beta');
      // At every step: what is spent and held fits every limit.
      expect(a[DAY]!.spentUsd + a[DAY]!.reservedUsd).toBeLessThanOrEqual(limits.alpha + 1e-12);
      expect(b[DAY]!.spentUsd + b[DAY]!.reservedUsd).toBeLessThanOrEqual(limits.beta + 1e-12);
      expect(a[GROUP_DAY]!.spentUsd + a[GROUP_DAY]!.reservedUsd).toBeLessThanOrEqual(groupLimit + 1e-12);
      if (admitted.every((c) => c === 0)) break;
    }
    expect(leased).toBeGreaterThan(0);
    expect(spent.alpha).toBeLessThanOrEqual(limits.alpha);
    expect(spent.beta).toBeLessThanOrEqual(limits.beta);
    expect(spent.alpha + spent.beta).toBeLessThanOrEqual(groupLimit);
    const a = await spendOf(replicas[2] as Store, 'alpha');
    const b = await spendOf(replicas[2] as Store, 'beta');
    expect(a[DAY]!.spentUsd).toBeCloseTo(spent.alpha, 9);
    expect(b[DAY]!.spentUsd).toBeCloseTo(spent.beta, 9);
    expect(a[GROUP_DAY]!.spentUsd).toBeCloseTo(spent.alpha + spent.beta, 9);
  });

  it('returns the leases of a key disabled on another replica within a second', async () => {
    replicas = open(2);
    const [a, b] = replicas as [Store, Store];
    await Promise.all(replicas.map((s) => s.init()));
    a.onDisabledChange(() => {});
    const windows = windowsOf(10, 20);
    for (let i = 0; i < 8; i++) await request(a, 'alpha', 0.01, windows);
    await waitFor(() => (a.leaseHoldings?.().leases ?? 0) > 0, 5_000);
    expect((await spendOf(b, 'alpha'))[DAY]!.reservedUsd).toBeGreaterThan(0);
    await b.setDisabled({ key: 'alpha', reason: 'test', by: 'admin', source: 'admin_api', at: now });
    await waitFor(async () => (await spendOf(b, 'alpha'))[DAY]!.reservedUsd === 0, 1_000);
    expect(a.leaseHoldings?.().leases).toBe(0);
  });

  it('stops spending a lease granted under a limit that a reload lowered', async () => {
    replicas = open(2);
    const [a, b] = replicas as [Store, Store];
    await Promise.all(replicas.map((s) => s.init()));
    let spent = 0;
    for (let i = 0; i < 8; i++) spent += await request(a, 'alpha', 0.02, windowsOf(2, 5), 1);
    await waitFor(() => (a.leaseHoldings?.().leases ?? 0) > 0, 5_000);
    const held = (await spendOf(b, 'alpha'))[DAY]!.reservedUsd;
    expect(held).toBeGreaterThan(0);
    // The reload: the daily limit is now just above what was spent.
    const lowered = windowsOf(spent + 0.05, 5);
    const costs = await Promise.all(
      Array.from({ length: 30 }, (_, i) => request(i % 2 ? a : b, 'alpha', 0.02, lowered, 1)),
    );
    spent += costs.reduce((x, y) => x + y, 0);
    // The old lease went back; only what fits the new limit was admitted.
    await waitFor(async () => (await spendOf(b, 'alpha'))[DAY]!.reservedUsd < held, 2_000);
    expect(spent).toBeLessThanOrEqual(lowered[0]!.limitUsd + 1e-12);
  });

  it('charges what a replica that died still leased once its lease has expired, and nothing twice', async () => {
    replicas = open(2);
    const [dead, survivor] = replicas as [Store, Store];
    await Promise.all(replicas.map((s) => s.init()));
    const windows = windowsOf(10, 20);
    let settled = 0;
    for (let i = 0; i < 8; i++) settled += await request(dead, 'alpha', 0.01, windows);
    await waitFor(() => (dead.leaseHoldings?.().leases ?? 0) > 0, 5_000);
    for (let i = 0; i < 10; i++) settled += await request(dead, 'alpha', 0.01, windows);
    // Two requests in flight when the replica dies (on the lease, or reserved alone if it ran
    // short): never settled.
    for (const id of ['lost-1', 'lost-2'])
      await dead.reserve({ id, key: 'alpha', amountUsd: 0.01, windows, periods, leaseUntil: now + 1_000 });
    const holding = dead.leaseHoldings?.();
    expect(holding?.leases).toBeGreaterThan(0);
    const before = (await spendOf(survivor, 'alpha'))[DAY]!;
    // What the leases still hold (free and held by the lost requests) is all reserved.
    expect(before.reservedUsd).toBeGreaterThanOrEqual((holding?.leasedUsd ?? 0) - 1e-9);
    // The survivor sweeps after the lease's time to live; the dead replica never renews again.
    await survivor.recoverReservations(now + 60_000);
    await survivor.recoverReservations(now + 60_000);
    const after = (await spendOf(survivor, 'alpha'))[DAY]!;
    expect(after.reservedUsd).toBe(0);
    expect(after.spentUsd).toBeCloseTo(settled + before.reservedUsd, 9);
    replicas = [survivor];
    await dead.close().catch(() => {});
  });
});
