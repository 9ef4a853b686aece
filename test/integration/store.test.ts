import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { SQLITE_MIGRATIONS } from '../../src/store/migrations/sqlite/index.js';
import { RECOVERED_ERROR_CODE, RECOVERED_STATUS } from '../../src/store/recovered-usage.js';
import { applySqliteMigrations } from '../../src/store/sqlite/migrate.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { ReserveRequest, Store, UsageRecord } from '../../src/store/types.js';
import { type StoreBackend, storeBackends } from '../helpers/store-backends.js';

const DAY = 'd:2026-11-26';
const NEXT_DAY = 'd:2026-11-27';
const MONTH = 'm:2026-11';
const NOON = Date.UTC(2026, 10, 26, 12);
const FAR = 8_640_000_000_000_000;

function usage(over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    requestId: `req-${Math.random().toString(36).slice(2)}`,
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
    costUsd: 0.01,
    latencyMs: 12,
    stream: false,
    userAgent: 'vitest',
    ip: '127.0.0.1',
    configRevision: 'rev1',
    usageSource: 'provider',
    ...over,
  };
}

function reservation(over: Partial<ReserveRequest> = {}): ReserveRequest {
  return {
    id: `req-${Math.random().toString(36).slice(2)}`,
    key: 'cursor-dev',
    amountUsd: 0.1,
    windows: [{ period: DAY, limitUsd: 1 }],
    periods: [DAY, MONTH],
    leaseUntil: FAR,
    ...over,
  };
}

function expectUsd(actual: number | undefined, expected: number): void {
  expect(actual).toBeDefined();
  expect(Math.abs((actual ?? Number.NaN) - expected)).toBeLessThan(1e-9);
}

describe.each(storeBackends({ bothSqliteWriters: true }))('store: $name', (backend: StoreBackend) => {
  let store: Store;

  beforeEach(async () => {
    store = await backend.create();
  });
  afterEach(async () => {
    await backend.destroy();
  });

  describe('budgets', () => {
    it('reserves into every period and reports the reserved amount until settled', async () => {
      const r = reservation({ amountUsd: 0.3 });
      expect(await store.reserve(r)).toEqual({ ok: true });
      const during = await store.getSpend('cursor-dev', [DAY, MONTH]);
      expectUsd(during[DAY]?.reservedUsd, 0.3);
      expectUsd(during[MONTH]?.reservedUsd, 0.3);
      expectUsd(during[DAY]?.spentUsd, 0);

      const returned = await store.settle(usage({ requestId: r.id, costUsd: 0.12 }), [DAY, MONTH]);
      const after = await store.getSpend('cursor-dev', [DAY, MONTH]);
      for (const p of [DAY, MONTH]) {
        expectUsd(after[p]?.spentUsd, 0.12);
        expectUsd(after[p]?.reservedUsd, 0);
      }
      // Both stores hand back the spend with the write: the gateway needs no second read.
      expect(returned).toEqual(after);
      expect(await store.settle(usage({ requestId: r.id, costUsd: 0.12 }), [DAY, MONTH])).toBeUndefined();
    });

    it('holds a limit lowered mid-flight: later requests are refused, those in flight settle within their holds', async () => {
      const inFlight = [0, 1, 2].map(() => reservation({ amountUsd: 0.3 }));
      for (const r of inFlight) expect(await store.reserve(r)).toEqual({ ok: true });
      // A reload lowers the daily limit from $1 to $0.50 while $0.90 is held.
      const lowered = [{ period: DAY, limitUsd: 0.5 }];
      expect((await store.reserve(reservation({ amountUsd: 0.01, windows: lowered }))).ok).toBe(false);
      for (const r of inFlight) await store.settle(usage({ requestId: r.id, costUsd: 0.2 }), [DAY, MONTH]);
      expect((await store.reserve(reservation({ amountUsd: 0.01, windows: lowered }))).ok).toBe(false);
      const spend = await store.getSpend('cursor-dev', [DAY]);
      // At most the greater of the new limit and what was spent and held when it was lowered.
      expectUsd(spend[DAY]?.spentUsd, 0.6);
      expectUsd(spend[DAY]?.reservedUsd, 0);
    });

    it('reports zero spend for periods that never saw a request', async () => {
      expect(await store.getSpend('nobody', [DAY])).toEqual({ [DAY]: { spentUsd: 0, reservedUsd: 0 } });
    });

    it('refuses a reservation that does not fit and returns the failing window’s numbers', async () => {
      await store.settle(usage({ costUsd: 0.9 }), [DAY, MONTH]);
      expect((await store.reserve(reservation({ amountUsd: 0.05 }))).ok).toBe(true);

      const refused = await store.reserve(
        reservation({
          amountUsd: 0.1,
          windows: [
            { period: MONTH, limitUsd: 50 },
            { period: DAY, limitUsd: 1 },
          ],
        }),
      );
      expect(refused.ok).toBe(false);
      if (refused.ok) return;
      expect(refused.period).toBe(DAY);
      expectUsd(refused.limitUsd, 1);
      expectUsd(refused.spentUsd, 0.9);
      expectUsd(refused.reservedUsd, 0.05);
    });

    it('reserves all or nothing: a refusal in one window holds nothing in the others', async () => {
      await store.settle(usage({ costUsd: 4.95 }), [MONTH]);
      const refused = await store.reserve(
        reservation({
          windows: [
            { period: DAY, limitUsd: 1 },
            { period: MONTH, limitUsd: 5 },
          ],
        }),
      );
      expect(refused).toMatchObject({ ok: false, period: MONTH });
      const spend = await store.getSpend('cursor-dev', [DAY, MONTH]);
      expectUsd(spend[DAY]?.reservedUsd, 0);
      expectUsd(spend[MONTH]?.reservedUsd, 0);
    });

    it('accepts a reservation that fills a limit exactly', async () => {
      await store.settle(usage({ costUsd: 0.7 }), [DAY]);
      expect(await store.reserve(reservation({ amountUsd: 0.3 }))).toEqual({ ok: true });
      expect((await store.reserve(reservation({ amountUsd: 0.000001 }))).ok).toBe(false);
    });

    it('lets exactly 100 of 200 concurrent $0.01 reservations into a $1 limit', async () => {
      const results = await Promise.all(
        Array.from({ length: 200 }, () => store.reserve(reservation({ amountUsd: 0.01 }))),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(100);
      expectUsd((await store.getSpend('cursor-dev', [DAY]))[DAY]?.reservedUsd, 1);
    });

    it('charges the reservation’s own periods on settle, whatever periods settle is given', async () => {
      const r = reservation({ periods: [DAY, MONTH] });
      await store.reserve(r);
      await store.settle(usage({ requestId: r.id, costUsd: 0.04 }), [NEXT_DAY]);
      const spend = await store.getSpend('cursor-dev', [DAY, MONTH, NEXT_DAY]);
      expectUsd(spend[DAY]?.spentUsd, 0.04);
      expectUsd(spend[MONTH]?.spentUsd, 0.04);
      expectUsd(spend[NEXT_DAY]?.spentUsd, 0);
    });

    it('charges the given periods when a request was never reserved', async () => {
      await store.settle(usage({ costUsd: 0.02 }), [DAY, MONTH]);
      const spend = await store.getSpend('cursor-dev', [DAY, MONTH]);
      expectUsd(spend[DAY]?.spentUsd, 0.02);
      expectUsd(spend[MONTH]?.spentUsd, 0.02);
    });

    it('does not charge twice when the same request is settled twice', async () => {
      const r = reservation();
      await store.reserve(r);
      const u = usage({ requestId: r.id, costUsd: 0.05 });
      await store.settle(u, [DAY, MONTH]);
      await store.settle(u, [DAY, MONTH]);
      const spend = await store.getSpend('cursor-dev', [DAY, MONTH]);
      expectUsd(spend[DAY]?.spentUsd, 0.05);
      expectUsd(spend[DAY]?.reservedUsd, 0);
      expect(await store.spendBetween('cursor-dev', 0, FAR)).toMatchObject({ requests: 1 });
    });

    it('reserves nothing for a request whose usage record is already there (a late reserve)', async () => {
      // The reserve timed out on the gateway's side, the refusal was settled at no cost, and
      // only then did the reserve reach the store: it must not hold money until its lease ends.
      const r = reservation({ amountUsd: 0.5 });
      await store.settle(usage({ requestId: r.id, costUsd: 0, status: 503 }), [DAY, MONTH]);
      expect(await store.reserve(r)).toEqual({ ok: true });
      const spend = await store.getSpend('cursor-dev', [DAY, MONTH]);
      expectUsd(spend[DAY]?.reservedUsd ?? 0, 0);
      expectUsd(spend[MONTH]?.reservedUsd ?? 0, 0);
      expect(await store.recoverReservations(FAR - 1, true)).toBe(0);
    });

    it('answers a settle with the spend after it in the periods it charged', async () => {
      const other = reservation({ amountUsd: 0.3 });
      await store.reserve(other);
      const r = reservation({ amountUsd: 0.2 });
      await store.reserve(r);
      const after = await store.settle(usage({ requestId: r.id, costUsd: 0.05 }), [DAY, MONTH]);
      expect(Object.keys(after ?? {}).sort()).toEqual([DAY, MONTH]);
      expectUsd(after?.[DAY]?.spentUsd, 0.05);
      expectUsd(after?.[DAY]?.reservedUsd, 0.3);
      expectUsd(after?.[MONTH]?.spentUsd, 0.05);
      // Settled again: nothing changed, so nothing to tell (the caller reads it if it must).
      const again = await store.settle(usage({ requestId: r.id, costUsd: 0.05 }), [DAY, MONTH]);
      expect(again).toBeUndefined();
    });

    it('keeps windows independent per period and per key', async () => {
      await store.settle(usage({ costUsd: 1 }), [DAY]);
      expect((await store.reserve(reservation({ amountUsd: 0.5 }))).ok).toBe(false);
      const tomorrow = reservation({
        amountUsd: 0.5,
        windows: [{ period: NEXT_DAY, limitUsd: 1 }],
        periods: [NEXT_DAY],
      });
      expect(await store.reserve(tomorrow)).toEqual({ ok: true });
      expect(await store.reserve(reservation({ key: 'other', amountUsd: 0.5 }))).toEqual({ ok: true });
    });

    it('lets a refused key in again once a settle frees its reservation', async () => {
      const big = reservation({ amountUsd: 0.9 });
      await store.reserve(big);
      expect((await store.reserve(reservation({ amountUsd: 0.2 }))).ok).toBe(false);
      await store.settle(usage({ requestId: big.id, costUsd: 0.1 }), [DAY]);
      expect(await store.reserve(reservation({ amountUsd: 0.2 }))).toEqual({ ok: true });
    });

    it('reports spend of every key per period', async () => {
      await store.settle(usage({ key: 'a', costUsd: 0.5 }), [DAY, MONTH]);
      await store.settle(usage({ key: 'b', costUsd: 0.25 }), [MONTH]);
      const all = await store.getAllSpend([DAY, MONTH]);
      expectUsd(all.get('a')?.[DAY], 0.5);
      expectUsd(all.get('a')?.[MONTH], 0.5);
      expect(all.get('b')?.[DAY] ?? 0).toBe(0);
      expectUsd(all.get('b')?.[MONTH], 0.25);
    });
  });

  describe('recovering reservations', () => {
    it('charges and frees reservations whose lease ended, and leaves live ones alone', async () => {
      const dead = reservation({ amountUsd: 0.3, leaseUntil: 1_000 });
      const live = reservation({ amountUsd: 0.2, leaseUntil: 5_000 });
      await store.reserve(dead);
      await store.reserve(live);

      expect(await store.recoverReservations(2_000)).toBe(1);
      const spend = await store.getSpend('cursor-dev', [DAY, MONTH]);
      expectUsd(spend[DAY]?.spentUsd, 0.3);
      expectUsd(spend[DAY]?.reservedUsd, 0.2);
      expectUsd(spend[MONTH]?.spentUsd, 0.3);
      expect(await store.recoverReservations(2_000)).toBe(0);
    });

    it('writes a usage record for each recovered reservation, on its daily period’s day', async () => {
      const dead = reservation({ amountUsd: 0.3, leaseUntil: 1_000 });
      await store.reserve(dead);
      await store.recoverReservations(2_000);
      const rows = await store.queryUsage({ since: 0, until: FAR, by: 'status' }, 'UTC');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: RECOVERED_STATUS, requests: 1 });
      expectUsd(rows[0]?.cost_usd, 0.3);
      const rollup = await store.rollup('2026-11-26', '2026-11-26');
      expect(rollup).toHaveLength(1);
      expect(rollup[0]).toMatchObject({ key: 'cursor-dev', status: RECOVERED_STATUS, requests: 1 });
      expect(RECOVERED_ERROR_CODE).toBe('reservation_expired');
    });

    it('charges the metered cost once when the owner settles a request after it was recovered', async () => {
      // The sweep's charge goes back and the settle's cost comes in (store-late-settle.test.ts).
      const dead = reservation({ amountUsd: 0.3, leaseUntil: 1_000 });
      await store.reserve(dead);
      await store.recoverReservations(2_000);
      await store.settle(usage({ requestId: dead.id, costUsd: 0.01 }), [DAY, MONTH]);
      const spend = await store.getSpend('cursor-dev', [DAY, MONTH]);
      expect(spend[DAY]?.spentUsd).toBe(0.01);
      expect(spend[MONTH]?.spentUsd).toBe(0.01);
      await store.settle(usage({ requestId: dead.id, costUsd: 0.01 }), [DAY, MONTH]);
      expect((await store.getSpend('cursor-dev', [DAY]))[DAY]?.spentUsd).toBe(0.01);
    });

    it('releases every reservation when asked for all, as the embedded store does at start', async () => {
      await store.reserve(reservation({ amountUsd: 0.1 }));
      await store.reserve(reservation({ amountUsd: 0.2 }));
      expect(await store.recoverReservations(0, true)).toBe(2);
      const spend = await store.getSpend('cursor-dev', [DAY]);
      expectUsd(spend[DAY]?.spentUsd, 0.3);
      expectUsd(spend[DAY]?.reservedUsd, 0);
    });
  });

  describe('rate limits', () => {
    const slot = (
      now: number,
      over: { id?: string; key?: string; rpm?: number; maxParallel?: number } = {},
    ) => ({
      id: over.id ?? `s-${now}-${Math.random().toString(36).slice(2)}`,
      key: over.key ?? 'cursor-dev',
      rpm: over.rpm,
      maxParallel: over.maxParallel,
      now,
      leaseUntil: now + 600_000,
    });

    it('admits exactly rpm and max_parallel of a concurrent burst (calls may share one batch)', async () => {
      const rpm = await Promise.all(
        Array.from({ length: 30 }, (_, i) => store.acquireSlot(slot(i, { key: 'burst', rpm: 10 }))),
      );
      expect(rpm.filter((r) => r.ok)).toHaveLength(10);
      expect(rpm.filter((r) => !r.ok).every((r) => !r.ok && r.limit === 'rpm')).toBe(true);
      const par = await Promise.all(
        Array.from({ length: 12 }, () => store.acquireSlot(slot(100, { key: 'burst-par', maxParallel: 3 }))),
      );
      expect(par.filter((r) => r.ok)).toHaveLength(3);
    });

    it('refuses the request past rpm with the seconds until the oldest one leaves the minute', async () => {
      for (const t of [0, 1_000, 2_000])
        expect(await store.acquireSlot(slot(t, { rpm: 3 }))).toMatchObject({ ok: true });
      expect(await store.acquireSlot(slot(3_000, { rpm: 3 }))).toEqual({
        ok: false,
        limit: 'rpm',
        retryAfterSec: 57,
        remaining: 0,
      });
      expect(await store.acquireSlot(slot(60_000, { rpm: 3 }))).toMatchObject({ ok: true });
    });

    it('tells an admitted request how many are left in the rolling minute', async () => {
      const left = [];
      for (const t of [0, 1_000, 2_000]) left.push(await store.acquireSlot(slot(t, { rpm: 3 })));
      expect(left).toEqual([
        { ok: true, remaining: 2 },
        { ok: true, remaining: 1 },
        { ok: true, remaining: 0 },
      ]);
    });

    it('does not count refused requests against rpm', async () => {
      for (const t of [0, 1_000]) await store.acquireSlot(slot(t, { rpm: 2 }));
      for (let t = 2_000; t < 60_000; t += 5_000)
        expect((await store.acquireSlot(slot(t, { rpm: 2 }))).ok).toBe(false);
      expect((await store.acquireSlot(slot(60_000, { rpm: 2 }))).ok).toBe(true);
      const refused = await store.acquireSlot(slot(60_500, { rpm: 2 }));
      expect(refused).toMatchObject({ ok: false, limit: 'rpm', retryAfterSec: 1 });
    });

    it('refuses past max_parallel until a slot is released', async () => {
      const a = slot(0, { id: 'a', maxParallel: 2 });
      await store.acquireSlot(a);
      await store.acquireSlot(slot(1, { id: 'b', maxParallel: 2 }));
      const refused = await store.acquireSlot(slot(2, { id: 'c', maxParallel: 2 }));
      expect(refused).toMatchObject({ ok: false, limit: 'max_parallel', remaining: 0 });
      if (!refused.ok) expect(refused.retryAfterSec).toBeGreaterThanOrEqual(1);
      await store.releaseSlot('a', 'cursor-dev');
      expect(await store.acquireSlot(slot(3, { id: 'c', maxParallel: 2 }))).toMatchObject({ ok: true });
    });

    it('stops counting a parallel slot whose lease ended', async () => {
      await store.acquireSlot({ ...slot(0, { id: 'a', maxParallel: 1 }), leaseUntil: 1_000 });
      expect((await store.acquireSlot(slot(500, { id: 'b', maxParallel: 1 }))).ok).toBe(false);
      expect(await store.acquireSlot(slot(1_500, { id: 'b', maxParallel: 1 }))).toMatchObject({ ok: true });
    });

    it('records nothing when max_parallel refuses, so rpm is not used up', async () => {
      await store.acquireSlot(slot(0, { id: 'a', rpm: 2, maxParallel: 1 }));
      expect(await store.acquireSlot(slot(1, { id: 'b', rpm: 2, maxParallel: 1 }))).toMatchObject({
        limit: 'max_parallel',
      });
      await store.releaseSlot('a', 'cursor-dev');
      expect(await store.acquireSlot(slot(2, { id: 'b', rpm: 2, maxParallel: 1 }))).toMatchObject({
        ok: true,
      });
    });

    it('counts each key separately', async () => {
      await store.acquireSlot(slot(0, { rpm: 1 }));
      expect((await store.acquireSlot(slot(1, { rpm: 1 }))).ok).toBe(false);
      expect(await store.acquireSlot(slot(2, { key: 'other', rpm: 1 }))).toMatchObject({ ok: true });
    });
  });

  describe('disables, audit, claims and clients', () => {
    const disable = (key: string) => ({
      key,
      reason: 'loop',
      by: 'U01ALICE',
      source: 'slack' as const,
      at: NOON,
    });

    it('disables a key once, lists it, and tells subscribers about each change', async () => {
      let changes = 0;
      const unsubscribe = store.onDisabledChange(() => changes++);
      expect(await store.setDisabled(disable('cursor-dev'))).toBe(true);
      expect(await store.setDisabled({ ...disable('cursor-dev'), reason: 'again' })).toBe(false);
      expect((await store.listDisabled()).get('cursor-dev')).toEqual(disable('cursor-dev'));
      await vi_waitFor(() => changes >= 1);
      expect(await store.clearDisabled('cursor-dev')).toBe(true);
      expect(await store.clearDisabled('cursor-dev')).toBe(false);
      await vi_waitFor(() => changes >= 2);
      expect((await store.listDisabled()).size).toBe(0);
      unsubscribe();
      await store.setDisabled(disable('other'));
      expect(changes).toBe(2);
    });

    it('keeps disables across a close and reopen', async () => {
      await store.setDisabled(disable('cursor-dev'));
      await store.close();
      const again = await backend.create();
      expect((await again.listDisabled()).get('cursor-dev')).toEqual(disable('cursor-dev'));
    });

    it('lists audit entries newest first', async () => {
      for (const action of ['disable', 'enable', 'spend']) {
        await store.audit({
          at: NOON,
          actor: 'U01',
          source: 'slack',
          action,
          key: 'k',
          reason: null,
          result: 'ok',
        });
      }
      const entries = await store.listAudit(2);
      expect(entries.map((e) => e.action)).toEqual(['spend', 'enable']);
      expect(entries[0]).toEqual({
        at: NOON,
        actor: 'U01',
        source: 'slack',
        action: 'spend',
        key: 'k',
        reason: null,
        result: 'ok',
      });
    });

    it('grants a claim to the first caller only, and again after it is released', async () => {
      expect(await store.claimOnce('digest', '2026-11-26', NOON)).toBe(true);
      expect(await store.claimOnce('digest', '2026-11-26', NOON)).toBe(false);
      expect(await store.claimOnce('digest', '2026-11-27', NOON)).toBe(true);
      expect(await store.claimOnce('alert', '2026-11-26', NOON)).toBe(true);
      await store.releaseClaim('digest', '2026-11-26');
      expect(await store.claimOnce('digest', '2026-11-26', NOON)).toBe(true);
    });

    it('forgets claims of one scope made before a cut-off, and only those', async () => {
      await store.claimOnce('slack-signature', 'old', NOON - 600_000);
      await store.claimOnce('slack-signature', 'new', NOON);
      await store.claimOnce('digest', 'old-day', NOON - 600_000);
      expect(await store.pruneClaims('slack-signature', NOON - 300_000)).toBe(1);
      expect(await store.claimOnce('slack-signature', 'old', NOON)).toBe(true);
      expect(await store.claimOnce('slack-signature', 'new', NOON)).toBe(false);
      expect(await store.claimOnce('digest', 'old-day', NOON)).toBe(false);
    });

    it('keeps dashboard sign-outs until their sessions expire, and forgets them after', async () => {
      expect(await store.isSessionRevoked('sid-a')).toBe(false);
      await store.revokeSession('sid-a', NOON + 1_000, NOON);
      await store.revokeSession('sid-b', NOON + 9_000, NOON);
      await store.revokeSession('sid-b', NOON + 9_000, NOON);
      expect(await store.isSessionRevoked('sid-a')).toBe(true);
      expect(await store.isSessionRevoked('sid-b')).toBe(true);
      expect(await store.isSessionRevoked('sid-c')).toBe(false);
      // The next sign-out after sid-a's session expired drops its row; sid-b's session still runs.
      await store.revokeSession('sid-c', NOON + 20_000, NOON + 1_000);
      expect(await store.isSessionRevoked('sid-a')).toBe(false);
      expect(await store.isSessionRevoked('sid-b')).toBe(true);
      expect(await store.isSessionRevoked('sid-c')).toBe(true);
    });

    it('remembers the clients a key was used from', async () => {
      expect(await store.recordClient('k', 'curl|10.0.0.0/24', 1)).toEqual({ isNew: true, knownBefore: 0 });
      expect(await store.recordClient('k', 'curl|10.0.0.0/24', 2)).toEqual({ isNew: false, knownBefore: 0 });
      expect(await store.recordClient('k', 'python|10.0.0.0/24', 3)).toEqual({ isNew: true, knownBefore: 1 });
      expect(await store.recordClient('k', 'curl|10.0.0.0/24', 4)).toEqual({ isNew: false, knownBefore: 1 });
      expect(await store.recordClient('other', 'curl|10.0.0.0/24', 5)).toEqual({
        isNew: true,
        knownBefore: 0,
      });
    });
  });

  describe('usage queries', () => {
    const seed = async () => {
      const rows = [
        usage({ key: 'a', model: 'm1', status: 200, costUsd: 0.5, inputTokens: 10, outputTokens: 1 }),
        usage({ key: 'a', model: 'm2', status: 429, costUsd: 0, inputTokens: 0, outputTokens: 0 }),
        usage({ key: 'b', model: 'm1', status: 200, costUsd: 1.5, inputTokens: 30, outputTokens: 3 }),
        usage({ key: 'b', model: null, status: 401, costUsd: 0, inputTokens: 0, outputTokens: 0 }),
        // 23:30 UTC on the 26th is already the 27th in Berlin.
        usage({
          key: 'a',
          model: 'm1',
          status: 200,
          costUsd: 0.25,
          ts: Date.UTC(2026, 10, 26, 23, 30),
          inputTokens: 5,
        }),
        usage({
          key: 'a',
          model: 'm1',
          status: 500,
          costUsd: 0,
          ts: Date.UTC(2026, 10, 27, 12),
          day: '2026-11-27',
        }),
      ];
      for (const r of rows) await store.settle(r, []);
      return rows;
    };

    it('groups by key with errors counted as status >= 400, most expensive first', async () => {
      await seed();
      const rows = await store.queryUsage({ since: 0, until: FAR, by: 'key' }, 'UTC');
      expect(rows.map((r) => r.key)).toEqual(['b', 'a']);
      expect(rows[0]).toMatchObject({ key: 'b', requests: 2, errors: 1, input_tokens: 30, output_tokens: 3 });
      expect(rows[1]).toMatchObject({ key: 'a', requests: 4, errors: 2 });
      expectUsd(rows[1]?.cost_usd, 0.75);
      expect(Object.keys(rows[0] ?? {}).sort()).toEqual(
        ['cost_usd', 'errors', 'input_tokens', 'key', 'output_tokens', 'requests'].sort(),
      );
    });

    it('groups by model and by status', async () => {
      await seed();
      const byModel = await store.queryUsage({ since: 0, until: FAR, by: 'model' }, 'UTC');
      expect(byModel[0]).toMatchObject({ model: 'm1', requests: 4 });
      const byStatus = await store.queryUsage({ since: 0, until: FAR, by: 'status' }, 'UTC');
      expect(byStatus[0]).toMatchObject({ status: 200, requests: 3 });
      expect(byStatus.map((r) => r.status).sort()).toEqual([200, 401, 429, 500]);
    });

    it('groups by local day in the asked timezone, oldest first', async () => {
      await seed();
      const utc = await store.queryUsage({ since: 0, until: FAR, by: 'day' }, 'UTC');
      expect(utc.map((r) => [r.day, r.requests])).toEqual([
        ['2026-11-26', 5],
        ['2026-11-27', 1],
      ]);
      const berlin = await store.queryUsage({ since: 0, until: FAR, by: 'day' }, 'Europe/Berlin');
      expect(berlin.map((r) => [r.day, r.requests])).toEqual([
        ['2026-11-26', 4],
        ['2026-11-27', 2],
      ]);
    });

    it('groups by key and hash prefix with when each was last used, by key then most recent first', async () => {
      await seed();
      const at = (h: number) => Date.UTC(2026, 10, 28, h);
      await store.settle(usage({ key: 'a', keyHash: '3b1f2c4d5e6f', ts: at(9), costUsd: 0.5 }), []);
      await store.settle(usage({ key: 'a', keyHash: '3b1f2c4d5e6f', ts: at(10), status: 502 }), []);
      await store.settle(usage({ key: 'a', keyHash: '9a8b7c6d5e4f', ts: at(11), costUsd: 0.25 }), []);
      const rows = await store.queryUsage({ since: at(0), until: FAR, by: 'hash' }, 'UTC');
      expect(rows).toEqual([
        {
          key: 'a',
          hash: '9a8b7c6d5e4f',
          requests: 1,
          errors: 0,
          input_tokens: expect.any(Number),
          output_tokens: expect.any(Number),
          cost_usd: expect.closeTo(0.25, 9),
          last_used: new Date(at(11)).toISOString(),
        },
        expect.objectContaining({
          key: 'a',
          hash: '3b1f2c4d5e6f',
          requests: 2,
          errors: 1,
          last_used: new Date(at(10)).toISOString(),
        }),
      ]);
      // Records from before the prefix was kept group under a null hash.
      const all = await store.queryUsage({ since: 0, until: FAR, key: 'b', by: 'hash' }, 'UTC');
      expect(all).toEqual([expect.objectContaining({ key: 'b', hash: null, requests: 2 })]);
    });

    it('filters by key and by the half-open interval [since, until)', async () => {
      await seed();
      const rows = await store.queryUsage(
        { since: NOON, until: Date.UTC(2026, 10, 27, 12), key: 'a', by: 'key' },
        'UTC',
      );
      expect(rows).toEqual([expect.objectContaining({ key: 'a', requests: 3 })]);
      expect(await store.queryUsage({ since: 0, until: NOON, by: 'key' }, 'UTC')).toEqual([]);
    });

    it('keeps a daily rollup that matches the usage rows', async () => {
      const rows = await seed();
      const rollup = await store.rollup('2026-11-26', '2026-11-27');
      const expected = new Map<string, { requests: number; cost: number; input: number }>();
      for (const r of rows) {
        const id = `${r.day}|${r.key}|${r.model ?? ''}|${r.status}`;
        const e = expected.get(id) ?? { requests: 0, cost: 0, input: 0 };
        expected.set(id, {
          requests: e.requests + 1,
          cost: e.cost + r.costUsd,
          input: e.input + r.inputTokens,
        });
      }
      expect(rollup).toHaveLength(expected.size);
      for (const row of rollup) {
        const e = expected.get(`${row.day}|${row.key}|${row.model}|${row.status}`);
        expect(e).toBeDefined();
        expect(row.requests).toBe(e?.requests);
        expect(row.inputTokens).toBe(e?.input);
        expectUsd(row.costUsd, e?.cost ?? Number.NaN);
      }
      expect(await store.rollup('2026-11-27', '2026-11-27')).toHaveLength(1);
    });

    it('sums a key’s cost between two instants and knows when each key was last used', async () => {
      await seed();
      const between = await store.spendBetween('a', NOON, Date.UTC(2026, 10, 27));
      expect(between.requests).toBe(3);
      expectUsd(between.costUsd, 0.75);
      expect(await store.spendBetween('nobody', 0, FAR)).toEqual({ costUsd: 0, requests: 0 });
      const last = await store.lastUsed();
      expect(last.get('a')).toBe(Date.UTC(2026, 10, 27, 12));
      expect(last.get('b')).toBe(NOON);
    });
  });

  it('can be initialized twice and answers ping', async () => {
    await store.init();
    await store.ping();
    await store.close();
    await expect(store.ping()).rejects.toThrow();
  });

  it('rejects the calls of a store that cannot serve them with store_unavailable, the database error as its cause', async () => {
    await store.close();
    const calls: Array<() => Promise<unknown>> = [
      () => store.ping(),
      () => store.reserve(reservation()),
      () => store.settle(usage(), [DAY]),
      () => store.getSpend('cursor-dev', [DAY]),
      () => store.listDisabled(),
      () => store.claimOnce('scope', 'id', NOON),
      () => store.queryUsage({ since: 0, until: FAR, by: 'key' }, 'UTC'),
      () => store.recentUsage('cursor-dev', 5),
    ];
    for (const call of calls) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(GatewayError);
      expect(err).toMatchObject({ code: 'store_unavailable', status: 503 });
      expect((err as GatewayError).cause).toBeDefined();
    }
  });

  it('still refuses an impossible amount with its own words, not as an unavailable store', async () => {
    await expect(store.settle(usage({ costUsd: Number.NaN }), [DAY])).rejects.toThrow(/not a finite/);
  });
});

/** Bounded wait for a notification that may arrive asynchronously (postgres LISTEN/NOTIFY). */
async function vi_waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(cond()).toBe(true);
}

describe('sqlite store on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-kill-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // Both writers in the child: the write worker (more than one CPU) and the event loop's own
  // connection (one CPU), whatever the machine running the test has.
  const WRITERS = [
    ['the write worker', '2'],
    ['one CPU, on the event loop', '1'],
  ] as const;

  it.each(WRITERS)(
    'keeps a settled usage row when the process is killed right after, and recovers its open reservation (%s)',
    async (_name, cpus) => {
      const path = join(dir, 'tollgate.db');
      const child = fileURLToPath(new URL('../helpers/sqlite-settle-then-kill.ts', import.meta.url));
      const run = spawnSync(process.execPath, ['--import', 'tsx', child, path, 'settled-1', 'open-1', cpus], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('settled\n');
      expect(run.signal).toBe('SIGKILL');

      const store = createSqliteStore(path);
      try {
        await store.init();
        expect(await store.spendBetween('killed', 0, FAR)).toEqual({ costUsd: 0.25, requests: 1 });
        const before = await store.getSpend('killed', [DAY]);
        expectUsd(before[DAY]?.spentUsd, 0.25);
        expectUsd(before[DAY]?.reservedUsd, 0.5);
        expect(await store.recoverReservations(Date.now(), true)).toBe(1);
        const after = await store.getSpend('killed', [DAY]);
        expectUsd(after[DAY]?.spentUsd, 0.75);
        expectUsd(after[DAY]?.reservedUsd, 0);
      } finally {
        await store.close();
      }
    },
  );

  it.each(WRITERS)(
    'lets two processes on one file together reserve no more than the limit (%s)',
    async (_name, cpus) => {
      const path = join(dir, 'shared.db');
      // The file exists, in WAL mode, before the children start: two processes switching a new
      // file to WAL at the same moment can fail one of them with SQLITE_BUSY at once, whatever
      // busy_timeout says (SQLite's deadlock avoidance), which is not what this test is about.
      const first = createSqliteStore(path);
      await first.init();
      await first.close();
      const child = fileURLToPath(new URL('../helpers/sqlite-reserve-many.ts', import.meta.url));
      const runChild = (prefix: string) =>
        new Promise<string>((resolve, reject) => {
          const p = spawn(process.execPath, ['--import', 'tsx', child, path, prefix, '120', cpus], {
            timeout: 30_000,
          });
          let out = '';
          let err = '';
          p.stdout.on('data', (c: Buffer) => {
            out += c.toString();
          });
          p.stderr.on('data', (c: Buffer) => {
            err += c.toString();
          });
          p.on('error', reject);
          p.on('close', (code) =>
            code === 0 ? resolve(out) : reject(new Error(`child ${prefix} failed: ${err}`)),
          );
        });
      const [a, b] = await Promise.all([runChild('a'), runChild('b')]);
      expect(Number(a) + Number(b)).toBe(100);

      const store = createSqliteStore(path);
      try {
        await store.init();
        expectUsd((await store.getSpend('shared', [DAY]))[DAY]?.reservedUsd, 1);
      } finally {
        await store.close();
      }
    },
  );

  it('opens a new file in both of two processes that open it at the same moment, 30 times over', async () => {
    // Switching a new file to WAL in two processes at once fails one of them with SQLITE_BUSY at
    // once, busy_timeout notwithstanding (the store retries it). Two children, each told to open
    // the same new file at the same instant, 30 new files in turn; every open must succeed.
    // Without the retry about one open in eight failed (more children did not fail more on two
    // cores: they only wait for one). Every tenth round they reserve through the write worker,
    // whose connection opens the file while the other process may still be switching it (the
    // worker costs ~200 ms to start, hence not every round).
    const ROUNDS = 30;
    const child = fileURLToPath(new URL('../helpers/sqlite-open-at.ts', import.meta.url));
    const children = Array.from({ length: 2 }, () =>
      spawn(process.execPath, ['--import', 'tsx', child], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        timeout: 60_000,
      }),
    );
    const next = (p: (typeof children)[number]) =>
      new Promise<string>((resolve, reject) => {
        const exited = (code: number | null) => reject(new Error(`a child exited (code ${code})`));
        p.once('exit', exited);
        p.once('message', (m) => {
          p.off('exit', exited);
          resolve(String(m));
        });
      });
    try {
      await Promise.all(children.map(next));
      const answers: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const path = join(dir, `fresh-${round}.db`);
        const at = Date.now() + 20;
        const replies = children.map(next);
        for (const p of children) p.send({ path, at, cpus: round % 10 === 0 ? 2 : 1 });
        answers.push(...(await Promise.all(replies)));
      }
      expect(answers.filter((a) => a !== 'ok')).toEqual([]);
      expect(answers).toHaveLength(2 * ROUNDS);
    } finally {
      for (const p of children) if (p.connected) p.send('exit');
      await Promise.all(
        children.map((p) =>
          p.exitCode !== null || p.signalCode !== null
            ? null
            : new Promise((resolve) => p.once('exit', resolve)),
        ),
      );
    }
  });

  it('stores every field of a usage record as given', async () => {
    const path = join(dir, 'fields.db');
    const store = createSqliteStore(path);
    const record = usage({
      requestId: 'all-fields',
      model: null,
      upstream: null,
      errorCode: 'upstream_timeout',
      status: 504,
      cachedTokens: 7,
      cacheWriteTokens: 11,
      stream: true,
      userAgent: null,
      ip: '::1',
      usageSource: 'estimated',
      latencyMs: 600_000,
      requestedModel: 'gpt-4o-mini-2024-07-18',
      keyHash: '0123456789ab',
      requestFp: '0123456789abcdef0123456789abcdef',
      prefixFp: 'fedcba9876543210fedcba9876543210',
      prefixTokens: 2048,
      outputLimit: 4096,
      images: 2,
      audioSeconds: 61.5,
      characters: 1234,
    });
    await store.init();
    await store.settle(record, []);
    await store.close();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT * FROM usage WHERE request_id = 'all-fields'").get()).toEqual({
        request_id: 'all-fields',
        ts: record.ts,
        day: record.day,
        key: record.key,
        model: null,
        upstream: null,
        route: record.route,
        status: 504,
        error_code: 'upstream_timeout',
        input_tokens: record.inputTokens,
        output_tokens: record.outputTokens,
        cached_tokens: 7,
        cost_usd: record.costUsd,
        latency_ms: 600_000,
        stream: 1,
        user_agent: null,
        ip: '::1',
        config_revision: 'rev1',
        usage_source: 'estimated',
        cache_write_tokens: 11,
        requested_model: 'gpt-4o-mini-2024-07-18',
        key_hash: '0123456789ab',
        request_fp: '0123456789abcdef0123456789abcdef',
        prefix_fp: 'fedcba9876543210fedcba9876543210',
        prefix_tokens: 2048,
        output_limit: 4096,
        images: 2,
        audio_seconds: 61.5,
        characters: 1234,
        // SQLite migration 13: the store's recorder wrote its rollups itself.
        batch_rollup: 1,
      });
    } finally {
      db.close();
    }
  });

  it('records each applied migration in schema_migrations', async () => {
    const path = join(dir, 'm.db');
    const store = createSqliteStore(path);
    await store.init();
    await store.close();
    const reopened = createSqliteStore(path);
    await reopened.init();
    await reopened.close();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare('SELECT version FROM schema_migrations').all();
      // Every migration the store ships, whatever versions other branches add.
      expect(rows).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version })));
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      // Migrations 2 and 4: the in-flight reservations table is one b-tree, keyed by id.
      const indexes = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'reservations'")
        .pluck()
        .all();
      expect(indexes).toEqual([]);
      expect(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'reservations'").pluck().get()).toMatch(
        /WITHOUT ROWID/,
      );
    } finally {
      db.close();
    }
  });

  it('keeps the reservations in flight when migration 4 rebuilds their table', async () => {
    const path = join(dir, 'm4.db');
    const { default: Database } = await import('better-sqlite3');
    const old = new Database(path);
    try {
      applySqliteMigrations(
        old,
        SQLITE_MIGRATIONS.filter((m) => m.version < 4),
      );
      old
        .prepare("INSERT INTO spend (key, period, spent_usd, reserved_usd) VALUES ('k', ?, 0, 0.25)")
        .run(DAY);
      old
        .prepare(
          "INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at) VALUES ('r1', 'k', 0.25, ?, 1, 1)",
        )
        .run(JSON.stringify([DAY]));
    } finally {
      old.close();
    }
    const store = createSqliteStore(path);
    try {
      await store.init();
      expect(await store.recoverReservations(Date.now())).toBe(1);
      expect((await store.getSpend('k', [DAY]))[DAY]).toEqual({ spentUsd: 0.25, reservedUsd: 0 });
    } finally {
      await store.close();
    }
  });
});
