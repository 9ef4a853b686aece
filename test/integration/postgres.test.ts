import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store, UsageRecord } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function usage(over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    requestId: 'req-1',
    ts: T0,
    day: '2026-11-26',
    key: 'cursor-dev',
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 100,
    outputTokens: 50,
    cachedTokens: 10,
    costUsd: 0.25,
    latencyMs: 123,
    stream: true,
    userAgent: 'cursor/1.0',
    ip: '10.0.0.1',
    configRevision: 'abc123',
    usageSource: 'provider',
    ...over,
  };
}

describe('postgres store', () => {
  let db: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The database's own per-request paths, counted exactly: without budget or rate leases, which
    // a timer may grant when calls come fast (their tests: postgres-leases*, postgres-rate-leases).
    store = createPostgresStore(db.url, { clock: () => T0, leaseHorizonMs: 0 });
    await store.init();
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('applies migrations once and a second init is a no-op', async () => {
    await store.init();
    await store.ping();
  });

  it('refuses a reservation that would push a window past its limit and reports the window', async () => {
    const periods = ['d:2026-11-26', 'm:2026-11'];
    const windows = [
      { period: 'd:2026-11-26', limitUsd: 1 },
      { period: 'm:2026-11', limitUsd: 10 },
    ];
    const base = { key: 'k-limit', periods, windows, leaseUntil: T0 + 60_000 };
    expect(await store.reserve({ ...base, id: 'a', amountUsd: 0.6 })).toEqual({ ok: true });
    expect(await store.reserve({ ...base, id: 'b', amountUsd: 0.4 })).toEqual({ ok: true });
    expect(await store.reserve({ ...base, id: 'c', amountUsd: 0.01 })).toEqual({
      ok: false,
      period: 'd:2026-11-26',
      limitUsd: 1,
      spentUsd: 0,
      reservedUsd: 1,
    });
    expect(await store.getSpend('k-limit', periods)).toEqual({
      'd:2026-11-26': { spentUsd: 0, reservedUsd: 1 },
      'm:2026-11': { spentUsd: 0, reservedUsd: 1 },
    });
  });

  it('admits a reservation that fits a limit exactly, without float rounding refusing it', async () => {
    const windows = [{ period: 'd:2026-11-26', limitUsd: 0.3 }];
    const base = { key: 'k-exact', periods: ['d:2026-11-26'], windows, leaseUntil: T0 + 60_000 };
    expect(await store.reserve({ ...base, id: 'x1', amountUsd: 0.1 })).toEqual({ ok: true });
    expect(await store.reserve({ ...base, id: 'x2', amountUsd: 0.2 })).toEqual({ ok: true });
  });

  it('settles a reservation: releases the reserved amount, charges the real cost, writes usage and rollup', async () => {
    const periods = ['d:2026-11-26', 'm:2026-11'];
    await store.reserve({
      id: 'req-settle',
      key: 'k-settle',
      amountUsd: 2,
      windows: [{ period: 'd:2026-11-26', limitUsd: 5 }],
      periods,
      leaseUntil: T0 + 60_000,
    });
    await store.settle(usage({ requestId: 'req-settle', key: 'k-settle', costUsd: 0.25 }), periods);
    expect(await store.getSpend('k-settle', periods)).toEqual({
      'd:2026-11-26': { spentUsd: 0.25, reservedUsd: 0 },
      'm:2026-11': { spentUsd: 0.25, reservedUsd: 0 },
    });
    // Settling the same request again changes nothing.
    await store.settle(usage({ requestId: 'req-settle', key: 'k-settle', costUsd: 0.25 }), periods);
    expect((await store.getSpend('k-settle', ['d:2026-11-26']))['d:2026-11-26']?.spentUsd).toBe(0.25);
    const roll = (await store.rollup('2026-11-26', '2026-11-26')).filter((r) => r.key === 'k-settle');
    expect(roll).toEqual([
      {
        day: '2026-11-26',
        key: 'k-settle',
        model: 'gpt-4o-mini',
        status: 200,
        requests: 1,
        inputTokens: 100,
        outputTokens: 50,
        costUsd: 0.25,
      },
    ]);
  });

  it('stores the cache-write tokens, the requested model and the key hash prefix of a record', async () => {
    await store.settle(
      usage({
        requestId: 'fields-1',
        cacheWriteTokens: 11,
        requestedModel: 'gpt-4o-mini-2024-07-18',
        keyHash: '0123456789ab',
      }),
      ['d:2026-11-26'],
    );
    await store.settle(usage({ requestId: 'fields-2' }), ['d:2026-11-26']);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT request_id, cache_write_tokens::int AS w, requested_model, key_hash FROM usage
         WHERE request_id IN ('fields-1', 'fields-2') ORDER BY request_id`,
      );
      expect(rows).toEqual([
        {
          request_id: 'fields-1',
          w: 11,
          requested_model: 'gpt-4o-mini-2024-07-18',
          key_hash: '0123456789ab',
        },
        { request_id: 'fields-2', w: 0, requested_model: null, key_hash: null },
      ]);
    } finally {
      await c.end();
    }
  });

  it('stores the fingerprints and output limit of records settled alone and in a batch', async () => {
    const fields = (i: number) => ({
      requestFp: `${String(i).padStart(2, '0')}${'a'.repeat(30)}`,
      prefixFp: i % 2 === 0 ? `${String(i).padStart(2, '0')}${'b'.repeat(30)}` : null,
      prefixTokens: i % 2 === 0 ? 1_500 + i : 0,
      outputLimit: 1_000 + i,
    });
    // Eight at once go through tollgate_settle_many; the first alone through tollgate_settle_spend.
    await store.settle(usage({ requestId: 'fp-0', ...fields(0) }), ['d:2026-11-26']);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.settle(usage({ requestId: `fp-${i + 1}`, ...fields(i + 1) }), ['d:2026-11-26']),
      ),
    );
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT request_id, request_fp, prefix_fp, prefix_tokens, output_limit FROM usage
         WHERE request_id LIKE 'fp-%' ORDER BY request_id`,
      );
      expect(rows).toEqual(
        Array.from({ length: 9 }, (_, i) => {
          const f = fields(i);
          return {
            request_id: `fp-${i}`,
            request_fp: f.requestFp,
            prefix_fp: f.prefixFp,
            prefix_tokens: f.prefixTokens,
            output_limit: f.outputLimit,
          };
        }),
      );
    } finally {
      await c.end();
    }
  });

  it('settles a request that had no reservation into the given periods', async () => {
    await store.settle(usage({ requestId: 'req-nores', key: 'k-nores', costUsd: 0.5, status: 429 }), [
      'd:2026-11-26',
    ]);
    expect(await store.getSpend('k-nores', ['d:2026-11-26', 'm:2026-11'])).toEqual({
      'd:2026-11-26': { spentUsd: 0.5, reservedUsd: 0 },
      'm:2026-11': { spentUsd: 0, reservedUsd: 0 },
    });
    const all = await store.getAllSpend(['d:2026-11-26']);
    expect(all.get('k-nores')).toEqual({ 'd:2026-11-26': 0.5 });
  });

  it('charges an expired reservation at its reserved amount with a reserved-usage record, once', async () => {
    const periods = ['d:2026-11-25', 'm:2026-11'];
    await store.reserve({
      id: 'req-dead',
      key: 'k-dead',
      amountUsd: 0.75,
      windows: [{ period: 'd:2026-11-25', limitUsd: 5 }],
      periods,
      leaseUntil: T0 + 1000,
    });
    expect(await store.recoverReservations(T0 + 500)).toBe(0);
    expect(await store.recoverReservations(T0 + 2000)).toBe(1);
    expect(await store.recoverReservations(T0 + 3000)).toBe(0);
    expect(await store.getSpend('k-dead', periods)).toEqual({
      'd:2026-11-25': { spentUsd: 0.75, reservedUsd: 0 },
      'm:2026-11': { spentUsd: 0.75, reservedUsd: 0 },
    });
    const rows = await store.queryUsage({ since: T0 - 1, until: T0 + 1, key: 'k-dead', by: 'key' }, 'UTC');
    expect(rows).toEqual([
      { key: 'k-dead', requests: 1, errors: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0.75 },
    ]);
    // The rollup puts it on the day of its daily period.
    const roll = (await store.rollup('2026-11-25', '2026-11-25')).filter((r) => r.key === 'k-dead');
    expect(roll).toMatchObject([{ day: '2026-11-25', model: '', status: 0, requests: 1, costUsd: 0.75 }]);
    // A late settle from the replica that was thought dead replaces the sweep's charge with its
    // cost, once (docs/operations.md#a-settle-after-the-sweep).
    await store.settle(usage({ requestId: 'req-dead', key: 'k-dead', costUsd: 0.1 }), periods);
    await store.settle(usage({ requestId: 'req-dead', key: 'k-dead', costUsd: 0.1 }), periods);
    expect((await store.getSpend('k-dead', periods))['m:2026-11']?.spentUsd).toBe(0.1);
  });

  it('releases every reservation when asked to recover all', async () => {
    await store.reserve({
      id: 'req-all',
      key: 'k-all',
      amountUsd: 0.5,
      windows: [],
      periods: ['d:2026-11-26'],
      leaseUntil: T0 + 3_600_000,
    });
    // Earlier tests left unexpired reservations of other keys: `all` releases those too.
    expect(await store.recoverReservations(T0, true)).toBeGreaterThan(1);
    expect(await store.recoverReservations(T0, true)).toBe(0);
    expect(await store.getSpend('k-all', ['d:2026-11-26'])).toEqual({
      'd:2026-11-26': { spentUsd: 0.5, reservedUsd: 0 },
    });
    expect((await store.getSpend('k-limit', ['d:2026-11-26']))['d:2026-11-26']?.reservedUsd).toBe(0);
  });

  it('groups usage by key, model, day and status with error counts', async () => {
    await store.settle(usage({ requestId: 'q1', key: 'k-q', ts: T0 + 10, costUsd: 1 }), []);
    await store.settle(
      usage({ requestId: 'q2', key: 'k-q', ts: T0 + 20, status: 502, model: null, costUsd: 0 }),
      [],
    );
    const q = { since: T0, until: T0 + 100, key: 'k-q' };
    expect(await store.queryUsage({ ...q, by: 'day' }, 'America/Los_Angeles')).toMatchObject([
      { day: '2026-11-26', requests: 2 },
    ]);
    expect(await store.queryUsage({ ...q, by: 'day' }, 'Pacific/Kiritimati')).toMatchObject([
      { day: '2026-11-27', requests: 2 },
    ]);
    expect(await store.queryUsage({ ...q, by: 'status' }, 'UTC')).toEqual([
      { status: 200, requests: 1, errors: 0, input_tokens: 100, output_tokens: 50, cost_usd: 1 },
      { status: 502, requests: 1, errors: 1, input_tokens: 100, output_tokens: 50, cost_usd: 0 },
    ]);
    expect((await store.queryUsage({ ...q, by: 'key' }, 'UTC'))[0]).toMatchObject({
      key: 'k-q',
      requests: 2,
    });
    expect(await store.spendBetween('k-q', T0, T0 + 15)).toEqual({ costUsd: 1, requests: 1 });
    expect((await store.lastUsed()).get('k-q')).toBe(T0 + 20);
  });

  it('limits requests per minute on a rolling window and tells when to retry', async () => {
    const base = { key: 'k-rpm', rpm: 2, leaseUntil: T0 + 60_000 };
    expect(await store.acquireSlot({ ...base, id: 'r1', now: T0 })).toMatchObject({ ok: true });
    expect(await store.acquireSlot({ ...base, id: 'r2', now: T0 + 10_000 })).toMatchObject({ ok: true });
    expect(await store.acquireSlot({ ...base, id: 'r3', now: T0 + 20_000 })).toEqual({
      ok: false,
      limit: 'rpm',
      retryAfterSec: 40,
      remaining: 0,
    });
    expect(await store.acquireSlot({ ...base, id: 'r4', now: T0 + 60_001 })).toMatchObject({ ok: true });
  });

  it('answers a slot call made again under the same request id without counting it twice', async () => {
    // A batch whose commit landed but whose answer was lost is rerun item by item (batch.ts).
    const call = { id: 'again', key: 'k-again', maxParallel: 1, rpm: 1, now: T0, leaseUntil: T0 + 60_000 };
    expect(await store.acquireSlot(call)).toMatchObject({ ok: true });
    expect(await store.acquireSlot(call)).toMatchObject({ ok: true });
    // Another request is still held to the limits: the first call counted once, and only once.
    expect(await store.acquireSlot({ ...call, id: 'other' })).toMatchObject({
      ok: false,
      limit: 'max_parallel',
    });
    await store.releaseSlot('again', 'k-again');
    expect(await store.acquireSlot({ ...call, id: 'other' })).toMatchObject({ ok: false, limit: 'rpm' });
  });

  it('keeps the minute’s request count and token sum equal to the events they stand for', async () => {
    // rate_counts replaces a count over the minute's events on every call (migration 6): it
    // must follow every insert, expiry and token settle, of the key and of its group.
    const group = { subject: '@g-cnt', rpm: 100, tpm: 10_000 };
    const base = { key: 'k-cnt', rpm: 100, tpm: 10_000, group, leaseUntil: T0 + 120_000 };
    for (let i = 0; i < 5; i++)
      await store.acquireSlot({ ...base, id: `c${i}`, now: T0 + i * 20_000, tokens: 100 + i });
    await store.releaseSlot('c3', 'k-cnt', { group: '@g-cnt', tokens: 7 });
    await store.releaseSlot('c4', 'k-cnt', { group: '@g-cnt', tokens: 1000 });
    // Expires c0..c2 (ts <= now - 60 s) in both subjects.
    expect(await store.acquireSlot({ ...base, id: 'c5', now: T0 + 100_000, tokens: 50 })).toMatchObject({
      ok: true,
      remaining: 100 - 3,
    });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT key, requests::int, tokens::int,
           (SELECT count(*)::int FROM rate_events e WHERE e.key = c.key) AS events,
           (SELECT coalesce(sum(tokens), 0)::int FROM token_events e WHERE e.key = c.key) AS event_tokens
         FROM rate_counts c WHERE key IN ('k-cnt', '@g-cnt') ORDER BY key`,
      );
      const expected = { requests: 3, events: 3, tokens: 7 + 1000 + 50, event_tokens: 7 + 1000 + 50 };
      expect(rows).toEqual([
        { key: '@g-cnt', ...expected },
        { key: 'k-cnt', ...expected },
      ]);
    } finally {
      await c.end();
    }
  });

  it('limits requests in flight, frees a released slot and ignores an expired lease', async () => {
    const base = { key: 'k-par', maxParallel: 1, now: T0 };
    expect(await store.acquireSlot({ ...base, id: 'p1', leaseUntil: T0 + 1000 })).toMatchObject({ ok: true });
    expect(await store.acquireSlot({ ...base, id: 'p2', leaseUntil: T0 + 1000 })).toMatchObject({
      ok: false,
      limit: 'max_parallel',
    });
    await store.releaseSlot('p1', 'k-par');
    expect(await store.acquireSlot({ ...base, id: 'p3', leaseUntil: T0 + 1000 })).toMatchObject({ ok: true });
    expect(await store.acquireSlot({ ...base, id: 'p4', now: T0 + 1001, leaseUntil: T0 + 2000 })).toEqual({
      ok: true,
    });
  });

  it('disables and re-enables a key idempotently', async () => {
    const d = { key: 'k-dis', reason: 'loop', by: 'U01', source: 'slack' as const, at: T0 };
    expect(await store.setDisabled(d)).toBe(true);
    expect(await store.setDisabled(d)).toBe(false);
    expect((await store.listDisabled()).get('k-dis')).toEqual(d);
    expect(await store.clearDisabled('k-dis')).toBe(true);
    expect(await store.clearDisabled('k-dis')).toBe(false);
    expect((await store.listDisabled()).has('k-dis')).toBe(false);
  });

  it('keeps the audit log newest first', async () => {
    const e = {
      actor: 'U01',
      source: 'slack' as const,
      action: 'disable',
      key: 'k',
      reason: null,
      result: 'ok',
    };
    await store.audit({ ...e, at: T0 });
    await store.audit({ ...e, at: T0 + 1, result: 'refused: not an admin' });
    expect(await store.listAudit(1)).toEqual([{ ...e, at: T0 + 1, result: 'refused: not an admin' }]);
  });

  it('claims once and can release a claim for a retry', async () => {
    expect(await store.claimOnce('digest', '2026-11-26', T0)).toBe(true);
    expect(await store.claimOnce('digest', '2026-11-26', T0)).toBe(false);
    await store.releaseClaim('digest', '2026-11-26');
    expect(await store.claimOnce('digest', '2026-11-26', T0)).toBe(true);
  });

  it('remembers clients per key and counts the ones known before', async () => {
    expect(await store.recordClient('k-c', 'curl|10.0.0.0/24', T0)).toEqual({ isNew: true, knownBefore: 0 });
    expect(await store.recordClient('k-c', 'curl|10.0.0.0/24', T0 + 1)).toEqual({
      isNew: false,
      knownBefore: 0,
    });
    expect(await store.recordClient('k-c', 'python|10.0.0.0/24', T0 + 2)).toEqual({
      isNew: true,
      knownBefore: 1,
    });
  });
});
