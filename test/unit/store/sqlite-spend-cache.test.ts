import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../../src/store/sqlite.js';
import type { ReserveRequest, Store, UsageRecord } from '../../../src/store/types.js';

const DAY = 'd:2026-11-26';
const MONTH = 'm:2026-11';
const FAR = 8_640_000_000_000_000;
let n = 0;

const reservation = (over: Partial<ReserveRequest> = {}): ReserveRequest => ({
  id: `req-${++n}`,
  key: 'k',
  amountUsd: 0.4,
  windows: [{ period: DAY, limitUsd: 1 }],
  periods: [DAY, MONTH],
  leaseUntil: FAR,
  ...over,
});

const usage = (over: Partial<UsageRecord> = {}): UsageRecord => ({
  requestId: `req-${++n}`,
  ts: Date.UTC(2026, 10, 26, 12),
  day: '2026-11-26',
  key: 'k',
  model: 'm',
  upstream: 'u',
  route: '/v1/chat/completions',
  status: 200,
  errorCode: null,
  inputTokens: 1,
  outputTokens: 1,
  cachedTokens: 0,
  costUsd: 0.1,
  latencyMs: 1,
  stream: false,
  userAgent: null,
  ip: null,
  configRevision: 'r',
  usageSource: 'provider',
  ...over,
});

/**
 * The SQLite budget keeps the spend rows it read in memory (sqlite/budget.ts): these are the two
 * ways that copy could go stale, and each must be noticed before a reservation is decided on it.
 */
describe('SQLite spend cache', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-spend-cache-'));
    store = createSqliteStore(join(dir, 's.db'));
    await store.init();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sees what another connection committed since (a second process on the same file)', async () => {
    expect((await store.reserve(reservation())).ok).toBe(true);
    const other = new Database(join(dir, 's.db'));
    try {
      other.prepare("UPDATE spend SET spent_usd = 0.9 WHERE key = 'k' AND period = ?").run(DAY);
    } finally {
      other.close();
    }
    // 0.9 spent + 0.4 held + 0.4 asked > 1: refused, with the other connection's numbers.
    const refused = await store.reserve(reservation());
    expect(refused).toMatchObject({ ok: false, spentUsd: 0.9, reservedUsd: 0.4 });
    const spend = await store.getSpend('k', [DAY, MONTH]);
    expect(spend[DAY]).toEqual({ spentUsd: 0.9, reservedUsd: 0.4 });
    expect(spend[MONTH]).toEqual({ spentUsd: 0, reservedUsd: 0.4 });
  });

  it('forgets what a rolled-back batch wrote: a reservation retried alone is held once', async () => {
    // In one batch with a settle the database refuses (route is NOT NULL): the batch rolls back
    // and each op runs again alone. The reservation's first run must not linger in the cache.
    const bad = usage({ route: null as unknown as string });
    const [held, failed] = await Promise.allSettled([store.reserve(reservation()), store.settle(bad, [DAY])]);
    expect(held).toMatchObject({ status: 'fulfilled', value: { ok: true } });
    expect(failed.status).toBe('rejected');
    expect((await store.getSpend('k', [DAY]))[DAY]).toEqual({ spentUsd: 0, reservedUsd: 0.4 });
    // And the next reservation is decided on that: 0.4 + 0.4 fits, a third does not.
    expect((await store.reserve(reservation())).ok).toBe(true);
    expect(await store.reserve(reservation())).toMatchObject({ ok: false, reservedUsd: 0.8 });
  });

  it('refuses without holding anything, and a repeated reserve under one id holds once', async () => {
    const r = reservation({ amountUsd: 0.6 });
    expect((await store.reserve(r)).ok).toBe(true);
    expect((await store.reserve(r)).ok).toBe(true);
    const over = reservation({ amountUsd: 0.6 });
    expect((await store.reserve(over)).ok).toBe(false);
    expect((await store.getSpend('k', [DAY]))[DAY]).toEqual({ spentUsd: 0, reservedUsd: 0.6 });
    // The refused id left no reservation behind: settling it charges its periods, releases nothing.
    await store.settle(usage({ requestId: over.id, costUsd: 0.1 }), [DAY]);
    await store.settle(usage({ requestId: r.id, costUsd: 0.2 }), [DAY]);
    const spend = await store.getSpend('k', [DAY, MONTH]);
    expect(spend[DAY]?.reservedUsd).toBe(0);
    expect(spend[DAY]?.spentUsd).toBeCloseTo(0.3, 12);
    expect(spend[MONTH]).toEqual({ spentUsd: 0.2, reservedUsd: 0 });
  });
});
