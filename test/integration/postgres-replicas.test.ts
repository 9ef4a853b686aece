import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

/** Three Store instances, each with its own pool: three "replicas" on one database. */
describe('postgres store shared by several replicas', () => {
  let db: TestDatabase;
  let replicas: Store[] = [];
  const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

  const open = (n: number, poolSize = 5): Store[] =>
    Array.from({ length: n }, () => createPostgresStore(db.url, { poolSize, clock: () => T0 }));

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(replicas.map((s) => s.close()));
    replicas = [];
  });
  afterAll(async () => {
    await db.drop();
  });

  it('runs migrations from three replicas starting at once without error', async () => {
    replicas = open(3);
    await Promise.all(replicas.map((s) => s.init()));
    await Promise.all(replicas.map((s) => s.ping()));
  });

  it('never lets 150 concurrent reservations from three replicas exceed a small limit', async () => {
    replicas = open(3);
    await Promise.all(replicas.map((s) => s.init()));
    const periods = ['d:2026-11-26', 'm:2026-11'];
    const windows = [
      { period: 'd:2026-11-26', limitUsd: 1 },
      { period: 'm:2026-11', limitUsd: 50 },
    ];
    // Some spend already exists, so the limit is shared between settled and reserved money.
    await replicas[0]!.settle(
      {
        requestId: 'earlier',
        ts: T0,
        day: '2026-11-26',
        key: 'shared',
        model: 'm',
        upstream: 'u',
        route: '/v1/chat/completions',
        status: 200,
        errorCode: null,
        inputTokens: 1,
        outputTokens: 1,
        cachedTokens: 0,
        costUsd: 0.13,
        latencyMs: 1,
        stream: false,
        userAgent: null,
        ip: null,
        configRevision: 'r',
        usageSource: 'provider',
      },
      periods,
    );
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        replicas[i % 3]!.reserve({
          id: `r${i}`,
          key: 'shared',
          amountUsd: 0.07,
          windows,
          periods,
          leaseUntil: T0 + 60_000,
        }),
      ),
    );
    const admitted = results.filter((r) => r.ok).length;
    // (1 - 0.13) / 0.07 = 12.43: exactly 12 fit.
    expect(admitted).toBe(12);
    const spend = await replicas[1]!.getSpend('shared', periods);
    const day = spend['d:2026-11-26']!;
    expect(day.spentUsd + day.reservedUsd).toBeLessThanOrEqual(1);
    expect(day.reservedUsd).toBeCloseTo(0.84, 10);
    expect(spend['m:2026-11']!.reservedUsd).toBeCloseTo(0.84, 10);
  });

  it('admits at most 10 of a burst of 30 when two replicas share rpm 10', async () => {
    replicas = open(2);
    await Promise.all(replicas.map((s) => s.init()));
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        replicas[i % 2]!.acquireSlot({
          id: `b${i}`,
          key: 'burst',
          rpm: 10,
          now: T0,
          leaseUntil: T0 + 60_000,
        }),
      ),
    );
    expect(results.filter((r) => r.ok).length).toBe(10);
    const refused = results.find((r) => !r.ok);
    expect(refused).toEqual({ ok: false, limit: 'rpm', retryAfterSec: 60, remaining: 0 });
  });

  it('holds max_parallel across replicas', async () => {
    replicas = open(3);
    await Promise.all(replicas.map((s) => s.init()));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        replicas[i % 3]!.acquireSlot({
          id: `p${i}`,
          key: 'par',
          maxParallel: 4,
          now: T0,
          leaseUntil: T0 + 60_000,
        }),
      ),
    );
    expect(results.filter((r) => r.ok).length).toBe(4);
  });

  it('tells another replica about a disable within one second', async () => {
    replicas = open(2);
    await Promise.all(replicas.map((s) => s.init()));
    const [a, b] = replicas as [Store, Store];
    let seen = false;
    b.onDisabledChange(() => {
      seen = true;
    });
    // Give the LISTEN connection a moment to be established before the change.
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    await a.setDisabled({ key: 'leaky', reason: 'leak', by: 'U1', source: 'slack', at: T0 });
    while (!seen && performance.now() - started < 1000) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toBe(true);
    expect((await b.listDisabled()).has('leaky')).toBe(true);

    seen = false;
    const again = performance.now();
    await a.clearDisabled('leaky');
    while (!seen && performance.now() - again < 1000) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toBe(true);
  });

  it('gives a once-only claim to exactly one of three replicas', async () => {
    replicas = open(3);
    await Promise.all(replicas.map((s) => s.init()));
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => replicas[i % 3]!.claimOnce('digest', '2026-11-25', T0)),
    );
    expect(results.filter(Boolean).length).toBe(1);
  });

  it('recovers the expired reservation of a dead replica exactly once when two replicas sweep', async () => {
    // Reservations of requests, one each (no budget leases: postgres-leases.test.ts recovers those).
    const dead = createPostgresStore(db.url, { clock: () => T0, leaseHorizonMs: 0 });
    await dead.init();
    const periods = ['d:2026-11-26'];
    for (let i = 0; i < 40; i++) {
      await dead.reserve({
        id: `dead-${i}`,
        key: 'orphan',
        amountUsd: 0.01,
        windows: [{ period: 'd:2026-11-26', limitUsd: 5 }],
        periods,
        leaseUntil: T0 + 1000,
      });
    }
    await dead.close();
    replicas = open(2);
    await Promise.all(replicas.map((s) => s.init()));
    const counts = await Promise.all(replicas.map((s) => s.recoverReservations(T0 + 5000)));
    expect(counts[0]! + counts[1]!).toBe(40);
    const spend = (await replicas[0]!.getSpend('orphan', periods))['d:2026-11-26']!;
    expect(spend.reservedUsd).toBe(0);
    expect(spend.spentUsd).toBeCloseTo(0.4, 10);
    const rows = await replicas[0]!.queryUsage({ since: 0, until: T0 + 1, key: 'orphan', by: 'key' }, 'UTC');
    expect(rows[0]?.requests).toBe(40);
  });
});
