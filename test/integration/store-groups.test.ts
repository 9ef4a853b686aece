import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReserveRequest, SlotRequest, Store, UsageRecord } from '../../src/store/types.js';
import { type StoreBackend, storeBackends } from '../helpers/store-backends.js';

const DAY = 'd:2026-11-26';
const G_DAY = '@backend/d:2026-11-26';
const G_HOUR = '@backend/h:2026-11-26T13+05:30';
const NOON = Date.UTC(2026, 10, 26, 12);
const FAR = 8_640_000_000_000_000;

const usage = (over: Partial<UsageRecord>): UsageRecord => ({
  requestId: 'r',
  ts: NOON,
  day: '2026-11-26',
  key: 'api-a',
  model: 'm',
  upstream: 'u',
  route: '/v1/chat/completions',
  status: 200,
  errorCode: null,
  inputTokens: 1,
  outputTokens: 1,
  cachedTokens: 0,
  costUsd: 0.01,
  latencyMs: 1,
  stream: false,
  userAgent: null,
  ip: null,
  configRevision: 'r',
  usageSource: 'provider',
  ...over,
});

const reservation = (over: Partial<ReserveRequest>): ReserveRequest => ({
  id: 'r',
  key: 'api-a',
  amountUsd: 0.1,
  windows: [
    { period: DAY, limitUsd: 1 },
    { period: G_DAY, limitUsd: 0.25 },
  ],
  periods: [DAY, G_DAY, G_HOUR],
  leaseUntil: FAR,
  ...over,
});

const slot = (over: Partial<SlotRequest>): SlotRequest => ({
  id: 'r',
  key: 'api-a',
  now: NOON,
  leaseUntil: NOON + 60_000,
  ...over,
});

/** SQLite with each writer (worker, one CPU), and PostgreSQL. */
const BACKENDS = storeBackends({ bothSqliteWriters: true });

describe.each(BACKENDS)('group spend rows and slots: $name', (backend: StoreBackend) => {
  let store: Store;
  beforeEach(async () => {
    store = await backend.create();
  });
  afterEach(async () => {
    await backend.destroy();
  });

  it("holds a reservation in the key's and the group's rows at once, or in neither", async () => {
    expect(await store.reserve(reservation({ id: 'a1' }))).toEqual({ ok: true });
    expect(await store.reserve(reservation({ id: 'b1', key: 'api-b' }))).toEqual({ ok: true });
    // The group has $0.05 left: api-b's own day has room, the group's does not.
    const refused = await store.reserve(reservation({ id: 'b2', key: 'api-b' }));
    expect(refused).toMatchObject({ ok: false, period: G_DAY });
    if (!refused.ok) {
      expect(Number(refused.limitUsd)).toBeCloseTo(0.25, 12);
      expect(Number(refused.reservedUsd)).toBeCloseTo(0.2, 12);
    }
    const b = await store.getSpend('api-b', [DAY, G_DAY, G_HOUR]);
    expect(b[DAY]?.reservedUsd).toBeCloseTo(0.1, 12);
    expect(b[G_DAY]?.reservedUsd).toBeCloseTo(0.2, 12);
    expect(b[G_HOUR]?.reservedUsd).toBeCloseTo(0.2, 12);
  });

  it("charges the group's rows from the reservation on settle, and on recovery after a crash", async () => {
    await store.reserve(reservation({ id: 'a1' }));
    await store.reserve(reservation({ id: 'b1', key: 'api-b', leaseUntil: NOON }));
    // Settled with no periods of its own: the reservation knows which rows it holds.
    await store.settle(usage({ requestId: 'a1', costUsd: 0.03 }), []);
    expect(await store.recoverReservations(NOON + 1)).toBe(1);
    const spend = await store.getSpend('api-a', [DAY, G_DAY]);
    expect(spend[DAY]?.spentUsd).toBeCloseTo(0.03, 12);
    // The recovered request is charged what it reserved.
    expect(spend[G_DAY]?.spentUsd).toBeCloseTo(0.13, 12);
    expect(spend[G_DAY]?.reservedUsd).toBe(0);
    const all = await store.getAllSpend([DAY]);
    // Totals over every key must not count the group's rows a second time.
    expect(all.has('@backend')).toBe(false);
    expect(all.get('api-b')?.[DAY]).toBeCloseTo(0.1, 12);
  });

  it("shares the group's rpm and max_parallel between its keys, and names the group when it is full", async () => {
    const group = { subject: '@backend', rpm: 2, maxParallel: 5 };
    expect((await store.acquireSlot(slot({ id: 'a1', group }))).ok).toBe(true);
    expect((await store.acquireSlot(slot({ id: 'b1', key: 'api-b', group }))).ok).toBe(true);
    expect(await store.acquireSlot(slot({ id: 'b2', key: 'api-b', group }))).toMatchObject({
      ok: false,
      limit: 'rpm',
      group: '@backend',
    });
    // A refusal by the key's own limit records nothing in the group's minute.
    const tight = { subject: '@other', rpm: 1 };
    expect((await store.acquireSlot(slot({ id: 'c1', key: 'api-c', maxParallel: 1, group: tight }))).ok).toBe(
      true,
    );
    expect(
      await store.acquireSlot(slot({ id: 'c2', key: 'api-c', maxParallel: 1, group: tight })),
    ).toMatchObject({
      ok: false,
      limit: 'max_parallel',
    });
    await store.releaseSlot('c1', 'api-c', { group: '@other' });
    expect(await store.acquireSlot(slot({ id: 'd1', key: 'api-d', group: tight }))).toMatchObject({
      ok: false,
      limit: 'rpm',
      group: '@other',
    });
  });

  it('counts tpm at the admitted tokens until the request ends, then at the real ones', async () => {
    const group = { subject: '@backend', tpm: 1_000 };
    expect((await store.acquireSlot(slot({ id: 'a1', tpm: 600, tokens: 500, group }))).ok).toBe(true);
    expect(await store.acquireSlot(slot({ id: 'b1', key: 'api-b', tokens: 600, group }))).toMatchObject({
      ok: false,
      limit: 'tpm',
      group: '@backend',
      retryAfterSec: 60,
    });
    expect(
      await store.acquireSlot(slot({ id: 'a2', tpm: 600, tokens: 200, now: NOON + 10_000, group })),
    ).toMatchObject({ ok: false, limit: 'tpm' });
    await store.releaseSlot('a1', 'api-a', { group: '@backend', tokens: 50 });
    expect((await store.acquireSlot(slot({ id: 'b1', key: 'api-b', tokens: 600, group }))).ok).toBe(true);
    // 650 of 1,000 used: 400 more fits once a1's 50 leave the minute, 60 s after it came.
    expect(
      await store.acquireSlot(slot({ id: 'b2', key: 'api-b', tokens: 400, now: NOON + 20_000, group })),
    ).toMatchObject({ ok: false, limit: 'tpm', retryAfterSec: 40 });
    expect(
      (await store.acquireSlot(slot({ id: 'b2', key: 'api-b', tokens: 400, now: NOON + 60_001, group }))).ok,
    ).toBe(true);
  });
});
