import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import { RECOVERED_ERROR_CODE, RECOVERED_STATUS } from '../../src/store/recovered-usage.js';
import type { ReserveRequest, Store, UsageRecord } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { waitFor } from '../helpers/server-harness.js';
import { type StoreBackend, storeBackends } from '../helpers/store-backends.js';

/**
 * A settle that lands after the sweep charged its expired reservation
 * (docs/operations.md#a-settle-after-the-sweep): whatever the order of sweep and settle, the
 * request is charged its metered cost once, in the key's periods and its group's, and has one
 * usage record, the settle's. Money is asserted exactly: the sweep's charge is taken out before
 * the cost goes in, so nothing is left of it, not even float residue.
 */
const DAY = 'd:2026-11-26';
const MONTH = 'm:2026-11';
const GROUP_DAY = '@team/d:2026-11-26';
const GROUP_MONTH = '@team/m:2026-11';
const PERIODS = [DAY, MONTH, GROUP_DAY, GROUP_MONTH];
const NOON = Date.UTC(2026, 10, 26, 12);
/** Past every test reservation's lease: the sweep's `now`, as the server's clock would give it. */
const AFTER_EXPIRY = NOON + 10 * 60_000;
const FAR = 8_640_000_000_000_000;

let seq = 0;

function reservation(over: Partial<ReserveRequest> = {}): ReserveRequest {
  return {
    id: `late-${seq++}-${Math.random().toString(36).slice(2)}`,
    key: 'cursor-dev',
    amountUsd: 0.3,
    windows: [
      { period: DAY, limitUsd: 1 },
      { period: GROUP_DAY, limitUsd: 5 },
    ],
    periods: PERIODS,
    leaseUntil: NOON + 60_000,
    ...over,
  };
}

function usage(requestId: string, costUsd: number, over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    requestId,
    ts: NOON,
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
    latencyMs: 700_000,
    stream: false,
    userAgent: 'vitest',
    ip: '127.0.0.1',
    configRevision: 'rev1',
    usageSource: 'provider',
    ...over,
  };
}

/** SQLite with each writer (worker, one CPU), and PostgreSQL. */
const BACKENDS = storeBackends({ bothSqliteWriters: true });

describe.each(BACKENDS)('a settle after the sweep: $name', (backend: StoreBackend) => {
  let store: Store;

  beforeEach(async () => {
    store = await backend.create();
  });
  afterEach(async () => {
    await backend.destroy();
  });

  const spend = () => store.getSpend('cursor-dev', PERIODS);
  const records = async () => {
    const rows = await store.recentUsage('cursor-dev', 100);
    const rollup = await store.rollup('2026-11-26', '2026-11-26');
    return { rows, rollup };
  };

  /** Every period of the key and its group has spent `usd` and nothing reserved. */
  const expectSpent = async (usd: number) => {
    const after = await spend();
    for (const p of PERIODS) expect(after[p], p).toEqual({ spentUsd: usd, reservedUsd: 0 });
  };

  /** One usage record for the request, the settle's, and a rollup that matches it. */
  const expectOneRecord = async (id: string, costUsd: number) => {
    const { rows, rollup } = await records();
    expect(rows.map((r) => [r.requestId, r.status, r.errorCode, r.usageSource, r.costUsd])).toEqual([
      [id, 200, null, 'provider', costUsd],
    ]);
    expect(rollup).toEqual([
      {
        day: '2026-11-26',
        key: 'cursor-dev',
        model: 'gpt-4o-mini',
        status: 200,
        requests: 1,
        inputTokens: 100,
        outputTokens: 50,
        costUsd,
      },
    ]);
  };

  it.each([
    { what: 'less than the hold', metered: 0.12 },
    { what: 'the whole hold', metered: 0.3 },
    { what: 'nothing', metered: 0 },
    { what: 'more than the hold (a provider that overshot the bound)', metered: 0.41 },
  ])('charges the metered cost once when it is $what', async ({ metered }) => {
    const r = reservation();
    expect(await store.reserve(r)).toEqual({ ok: true });
    expect(await store.recoverReservations(AFTER_EXPIRY)).toBe(1);
    // The sweep charged the whole hold, with a record of its own.
    await expectSpent(0.3);
    const swept = (await records()).rows;
    expect(swept.map((u) => [u.requestId, u.status, u.errorCode, u.usageSource])).toEqual([
      [r.id, RECOVERED_STATUS, RECOVERED_ERROR_CODE, 'reserved'],
    ]);

    const returned = await store.settle(usage(r.id, metered), PERIODS);
    await expectSpent(metered);
    await expectOneRecord(r.id, metered);
    // The settle answers with the spend after it, as a first settle does.
    expect(returned).toEqual(await spend());

    // A retry of the same settle, and another sweep, change nothing.
    expect(await store.settle(usage(r.id, metered), PERIODS)).toBeUndefined();
    expect(await store.recoverReservations(FAR - 1)).toBe(0);
    await expectSpent(metered);
    await expectOneRecord(r.id, metered);
  });

  it('charges only the difference on top of what the key and its group spent already', async () => {
    await store.settle(usage('earlier', 0.25), PERIODS);
    const r = reservation({ amountUsd: 0.5 });
    await store.reserve(r);
    await store.recoverReservations(AFTER_EXPIRY);
    await store.settle(usage(r.id, 0.125), PERIODS);
    const after = await spend();
    for (const p of PERIODS) {
      expect(after[p]?.reservedUsd).toBe(0);
      expect(after[p]?.spentUsd).toBeCloseTo(0.375, 12);
    }
    const { rows } = await records();
    expect(rows.map((u) => u.costUsd).sort()).toEqual([0.125, 0.25]);
  });

  it('charges a settle before the sweep once, and the sweep nothing', async () => {
    const r = reservation();
    await store.reserve(r);
    await store.settle(usage(r.id, 0.12), PERIODS);
    expect(await store.recoverReservations(AFTER_EXPIRY)).toBe(0);
    await expectSpent(0.12);
    await expectOneRecord(r.id, 0.12);
  });

  it('charges the metered cost of a request swept by the recovery at start (every reservation)', async () => {
    const r = reservation({ leaseUntil: FAR });
    await store.reserve(r);
    expect(await store.recoverReservations(NOON, true)).toBe(1);
    await store.settle(usage(r.id, 0.05), PERIODS);
    await expectSpent(0.05);
    await expectOneRecord(r.id, 0.05);
  });

  it('settles a refused or broken request swept meanwhile at no charge, with its own record', async () => {
    const r = reservation();
    await store.reserve(r);
    await store.recoverReservations(AFTER_EXPIRY);
    const refused = usage(r.id, 0, {
      status: 502,
      errorCode: 'upstream_error',
      inputTokens: 0,
      outputTokens: 0,
      usageSource: 'none',
    });
    await store.settle(refused, PERIODS);
    await expectSpent(0);
    const { rows, rollup } = await records();
    expect(rows.map((u) => [u.requestId, u.status, u.costUsd])).toEqual([[r.id, 502, 0]]);
    expect(rollup.map((x) => [x.status, x.requests, x.costUsd])).toEqual([[502, 1, 0]]);
  });

  it('charges late settles exactly when they share batches with other settles of the key', async () => {
    const swept = Array.from({ length: 12 }, () => reservation({ amountUsd: 0.04 }));
    const live = Array.from({ length: 12 }, () => reservation({ amountUsd: 0.04, leaseUntil: FAR }));
    for (const r of [...swept, ...live]) expect(await store.reserve(r)).toEqual({ ok: true });
    expect(await store.recoverReservations(AFTER_EXPIRY)).toBe(12);
    // Settled at once: the stores commit concurrent settles together (group commits).
    await Promise.all([
      ...swept.map((r) => store.settle(usage(r.id, 0.01), PERIODS)),
      ...live.map((r) => store.settle(usage(r.id, 0.02), PERIODS)),
      ...swept.map((r) => store.settle(usage(r.id, 0.01), PERIODS)),
    ]);
    // Closed and opened again: a busy key's budget lease (PostgreSQL) goes back on close.
    await store.close();
    store = await backend.create();
    const after = await spend();
    for (const p of PERIODS) {
      expect(after[p]?.reservedUsd).toBe(0);
      expect(after[p]?.spentUsd).toBeCloseTo(0.36, 12);
    }
    const { rows, rollup } = await records();
    expect(rows).toHaveLength(24);
    expect(rows.every((u) => u.status === 200)).toBe(true);
    expect(rollup.map((x) => [x.status, x.requests])).toEqual([[200, 24]]);
    expect(rollup[0]?.costUsd).toBeCloseTo(0.36, 12);
  });

  it('keeps the sweep’s rollup of other swept requests when one of them settles late', async () => {
    const late = reservation();
    const dead = reservation({ amountUsd: 0.2 });
    await store.reserve(late);
    await store.reserve(dead);
    await store.recoverReservations(AFTER_EXPIRY);
    await store.settle(usage(late.id, 0.1), PERIODS);
    const after = await spend();
    for (const p of PERIODS) expect(after[p]?.spentUsd).toBeCloseTo(0.3, 12);
    const { rollup } = await records();
    const byStatus = rollup.map((x) => [x.status, x.requests, x.costUsd]).sort();
    expect(byStatus).toEqual([
      [RECOVERED_STATUS, 1, 0.2],
      [200, 1, 0.1],
    ]);
  });
});

/**
 * PostgreSQL with budget leases (docs/postgres.md#budget-leases): a per-request reservation swept
 * while another replica holds a lease of the same key, and a request served from a lease that was
 * swept while its replica was alive. Either way the settle's cost is charged once.
 */
describe.skipIf(process.env.TOLLGATE_TEST_SKIP_PG === '1')(
  'a settle after the sweep, with leases: postgres',
  () => {
    const LEASE_DAY = 'd:2026-11-26';
    const LEASE_PERIODS = [GROUP_DAY, LEASE_DAY, 'm:2026-11'];
    const windows = [
      { period: LEASE_DAY, limitUsd: 10 },
      { period: GROUP_DAY, limitUsd: 20 },
    ];
    let db: TestDatabase;
    let opened: Store[] = [];
    let now = NOON;

    beforeEach(async () => {
      db = await createTestDatabase();
      now = NOON;
    });
    afterEach(async () => {
      await Promise.all(opened.map((s) => s.close()));
      opened = [];
      await db.drop();
    });

    const open = async (leaseHorizonMs?: number) => {
      const s = createPostgresStore(db.url, {
        poolSize: 2,
        clock: () => now,
        ...(leaseHorizonMs === undefined ? {} : { leaseHorizonMs }),
      });
      opened.push(s);
      await s.init();
      return s;
    };
    const request = (id: string, leaseUntil = now + 600_000): ReserveRequest => ({
      id,
      key: 'cursor-dev',
      amountUsd: 0.01,
      windows,
      periods: LEASE_PERIODS,
      leaseUntil,
    });
    /** Requests of the key settled at no cost until the replica holds a lease of it. */
    const warm = async (s: Store) => {
      for (let i = 0; (s.leaseHoldings?.().leases ?? 0) === 0; i++) {
        const id = `warm-${i}`;
        await s.reserve(request(id));
        await s.settle(usage(id, 0), LEASE_PERIODS);
        if (i > 200) throw new Error('no lease was granted');
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const spendOf = async (s: Store) => await s.getSpend('cursor-dev', [LEASE_DAY, GROUP_DAY]);
    const usageTotals = async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const { rows } = await c.query<{ n: number; c: string; d: string }>(
          `SELECT (SELECT count(*)::int FROM usage WHERE request_id = 'late') AS n,
                (SELECT coalesce(sum(cost_usd), 0)::text FROM usage) AS c,
                (SELECT coalesce(sum(cost_usd), 0)::text FROM usage_daily) AS d`,
        );
        return rows[0];
      } finally {
        await c.end();
      }
    };

    it.each([0.004, 0.01, 0])(
      'charges %s once for a reservation swept while another replica leases the key',
      async (metered) => {
        // The leasing replica renews far past the sweep; the other reserves in the database.
        now = NOON + 3_600_000;
        const leasing = await open();
        await warm(leasing);
        const leased = (await spendOf(leasing))[LEASE_DAY]!.reservedUsd;
        expect(leased).toBeGreaterThan(0);
        const single = await open(0);
        expect(await single.reserve(request('late', NOON + 60_000))).toEqual({ ok: true });
        expect(await single.recoverReservations(AFTER_EXPIRY)).toBe(1);
        await single.settle(usage('late', metered, { model: 'm' }), LEASE_PERIODS);
        // The lease stays reserved meanwhile (its size moves with the leasing replica's rounds).
        const after = await spendOf(single);
        for (const p of [LEASE_DAY, GROUP_DAY]) expect(after[p]?.spentUsd).toBe(metered);
        await leasing.close();
        const closed = await spendOf(single);
        for (const p of [LEASE_DAY, GROUP_DAY])
          expect(closed[p]).toEqual({ spentUsd: metered, reservedUsd: 0 });
        const totals = await usageTotals();
        expect(totals?.n).toBe(1);
        expect(Number(totals?.c)).toBe(metered);
        expect(Number(totals?.d)).toBe(metered);
      },
    );

    it.each([0.004, 0.01, 0])(
      'charges %s once for a request served from a lease swept while its replica lived',
      async (metered) => {
        const s = await open();
        await warm(s);
        expect(await s.reserve(request('late'))).toEqual({ ok: true, leased: true });
        expect(s.leaseHoldings?.().heldUsd).toBeCloseTo(0.01, 12);
        // Every lease expired (its replica cut off, as far as the sweep can tell). A round of the
        // replica's may hold the lease row at that moment: the sweep skips it and comes again.
        await waitFor(async () => (await s.recoverReservations(FAR - 1)) > 0, 5_000);
        await s.settle(usage('late', metered), LEASE_PERIODS);
        await s.close();
        const reader = await open(0);
        const after = await spendOf(reader);
        for (const p of [LEASE_DAY, GROUP_DAY])
          expect(after[p]).toEqual({ spentUsd: metered, reservedUsd: 0 });
        const totals = await usageTotals();
        expect(totals?.n).toBe(1);
        expect(Number(totals?.c)).toBe(metered);
        expect(Number(totals?.d)).toBe(metered);
      },
    );
  },
);
