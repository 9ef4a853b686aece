import { describe, expect, it } from 'vitest';
import { createLeaseBook, type LeasePlan, type RoundPlan } from '../../../src/store/postgres/leases/book.js';

const plan = (limitUsd: number): LeasePlan => ({
  key: 'alpha',
  periods: ['d:1'],
  windows: [{ period: 'd:1', limitUsd }],
});

function bookWithLease(now: number) {
  let seq = 0;
  const book = createLeaseBook({
    tauMs: 2_000,
    horizonMs: 2_000,
    minRequests: 4,
    idleMs: 2_000,
    ttlMs: 30_000,
    settleGiveUpMs: 60_000,
    roundLandsWithinMs: 6_000,
    newId: () => `lease:${seq++}`,
  });
  for (let i = 0; i < 8; i++) book.take(plan(10), `warm-${i}`, 0.01, now);
  const round = book.planRound(now);
  const grant = round.grants[0];
  if (!grant) throw new Error('no grant asked for');
  book.applyRound(round, { granted: new Map([[grant.leaseId, grant.want]]), gone: new Set() });
  return { book, leaseId: grant.leaseId };
}

const released = (r: RoundPlan) => r.returns.reduce((n, x) => n + x.released, 0);
const answered = { granted: new Map<string, number>(), gone: new Set<string>() };

describe('a replica’s lease book', () => {
  it('serves a busy plan from its lease, then returns the lease once a reload changed the plan', () => {
    const { book, leaseId } = bookWithLease(1_000);
    expect(book.take(plan(10), 'q1', 0.01, 1_001)).toBe(true);
    // The limit was lowered: the next request's plan differs, so it reserves in the database.
    expect(book.take(plan(5), 'q2', 0.01, 1_002)).toBe(false);
    const round = book.planRound(1_003);
    expect(round.returns).toEqual([
      { leaseId, released: 80_000_000 - 10_000_000, granted: 80_000_000, close: false },
    ]);
    // No new lease is asked for under the old limit.
    expect(round.grants.every((g) => g.plan.windows[0]?.limitUsd === 5)).toBe(true);
    book.applyRound(round, answered);
    // The request in flight settles from the old lease; then the lease closes.
    expect(book.startSettle('q1', 0.004, 1_004)).toEqual({
      leaseId,
      key: 'alpha',
      periods: ['d:1'],
      release: 4_000_000,
      heldSince: 1_001,
    });
    book.settled('q1');
    const last = book.planRound(1_005);
    // Released is the running total: the database applies what it has not applied yet.
    expect(last.returns).toEqual([{ leaseId, released: 76_000_000, granted: 80_000_000, close: true }]);
    book.applyRound(last, answered);
    expect(book.stats().leases).toBe(0);
  });

  it('stops taking from a lease halfway to its expiry until a round renews it', () => {
    const { book } = bookWithLease(1_000);
    expect(book.take(plan(10), 'a', 0.01, 1_000 + 14_000)).toBe(true);
    expect(book.take(plan(10), 'b', 0.01, 1_000 + 15_000)).toBe(false);
    const round = book.planRound(1_000 + 15_000);
    book.applyRound(round, { granted: new Map(), gone: new Set() });
    expect(book.take(plan(10), 'c', 0.01, 1_000 + 15_001)).toBe(true);
  });

  it('returns everything and asks for nothing once every key is revoked (a disable, or closing)', () => {
    const { book } = bookWithLease(1_000);
    book.revoke((key) => key === 'alpha');
    const round = book.planRound(1_001);
    expect(round.grants).toEqual([]);
    expect(released(round)).toBe(80_000_000);
    expect(book.take(plan(10), 'q', 0.01, 1_002)).toBe(false);
  });

  it('asks a failed round’s return again, and keeps a closing lease until a round confirms it', () => {
    const { book, leaseId } = bookWithLease(1_000);
    book.revoke((key) => key === 'alpha');
    const first = book.planRound(1_001);
    expect(first.returns).toEqual([{ leaseId, released: 80_000_000, granted: 80_000_000, close: true }]);
    book.roundFailed(first);
    // Nothing of it was confirmed: the same total is asked again, and the lease is still held.
    expect(book.stats().leases).toBe(1);
    const retry = book.planRound(1_002);
    expect(retry.returns).toEqual([{ leaseId, released: 80_000_000, granted: 80_000_000, close: true }]);
    book.applyRound(retry, answered);
    expect(book.stats().leases).toBe(0);
    expect(book.planRound(1_003).returns).toEqual([]);
  });

  it('closes a first grant whose answer was lost with everything its row may hold', () => {
    let seq = 0;
    const book = createLeaseBook({
      tauMs: 2_000,
      horizonMs: 2_000,
      minRequests: 4,
      idleMs: 2_000,
      ttlMs: 30_000,
      settleGiveUpMs: 60_000,
      roundLandsWithinMs: 6_000,
      newId: () => `lease:${seq++}`,
    });
    for (let i = 0; i < 8; i++) book.take(plan(10), `warm-${i}`, 0.01, 1_000);
    const lost = book.planRound(1_000);
    const leaseId = lost.grants[0]?.leaseId;
    expect(leaseId).toBeDefined();
    book.roundFailed(lost, 1_000);
    const next = book.planRound(1_001);
    expect(next.returns).toEqual([{ leaseId, released: 0, granted: 0, close: true }]);
    book.applyRound(next, answered);
    // The failed round may still commit (its statement waiting on a lock) until its timeout: a
    // return that found no row before then is asked again, and gives the row back if it landed.
    const again = book.planRound(1_002);
    expect(again.returns).toEqual([{ leaseId, released: 0, granted: 0, close: true }]);
    book.applyRound(again, answered);
    const last = book.planRound(1_000 + 6_000);
    expect(last.returns).toEqual([{ leaseId, released: 0, granted: 0, close: true }]);
    book.applyRound(last, answered);
    expect(book.planRound(1_000 + 6_001).returns).toEqual([]);
  });

  it('returns the free part of a lease the database swept, and settles its holds against the sweep’s charge', () => {
    const { book, leaseId } = bookWithLease(1_000);
    expect(book.take(plan(10), 'q1', 0.01, 1_001)).toBe(true);
    // Cut off from the database for longer than the lease lives: the sweep charged the row, and
    // the round that gets through returns its free part against that charge.
    const round = book.planRound(40_000);
    expect(round.returns).toEqual([{ leaseId, released: 70_000_000, granted: 80_000_000, close: false }]);
    expect(round.renew).toEqual([leaseId]);
    book.applyRound(round, { granted: new Map(), gone: new Set([leaseId]) });
    expect(book.take(plan(10), 'q2', 0.01, 40_001)).toBe(false);
    // Not renewed again, and nothing new to return while its request is in flight.
    const quiet = book.planRound(40_002);
    expect(quiet.returns).toEqual([]);
    expect(quiet.renew).toEqual([]);
    expect(book.startSettle('q1', 0.004, 40_003)).toEqual({
      leaseId,
      key: 'alpha',
      periods: ['d:1'],
      release: 4_000_000,
      heldSince: 1_001,
    });
    book.settled('q1');
    const last = book.planRound(40_004);
    expect(last.returns).toEqual([{ leaseId, released: 76_000_000, granted: 80_000_000, close: true }]);
  });

  it('draws a cost above its hold only as far as the lease has it, so a top-up and a close leave nothing unaccounted', () => {
    const { book, leaseId } = bookWithLease(1_000);
    // The whole lease (8 of 0.01) is taken; each request then costs 0.015.
    for (let i = 0; i < 8; i++) expect(book.take(plan(10), `q${i}`, 0.01, 1_001)).toBe(true);
    const releases = Array.from({ length: 8 }, (_, i) => book.startSettle(`q${i}`, 0.015, 1_002)?.release);
    // 0.08 in the lease, all of it held: each settle draws its own hold and nothing of the others'
    // (the 0.005 above each hold is charged beyond the lease).
    expect(releases).toEqual([10e6, 10e6, 10e6, 10e6, 10e6, 10e6, 10e6, 10e6]);
    for (let i = 0; i < 8; i++) book.settled(`q${i}`);
    const topUp = book.planRound(1_003);
    const grant = topUp.grants[0];
    expect(grant?.leaseId).toBe(leaseId);
    book.applyRound(topUp, { granted: new Map([[leaseId, 50_000_000]]), gone: new Set() });
    expect(book.stats().leased).toBe(50_000_000);
    // Closing returns all of the top-up: the row (0 + 0.05) is left with nothing to charge.
    book.revoke(() => true);
    expect(book.planRound(1_004).returns).toEqual([
      { leaseId, released: 50_000_000, granted: 130_000_000, close: true },
    ]);
  });

  it('never draws a cost above its hold from what other requests of the lease still hold', () => {
    const { book } = bookWithLease(1_000);
    // The lease's 0.08: q1 holds 0.01, q2 the other 0.07; q1 is then billed 0.08.
    expect(book.take(plan(10), 'q1', 0.01, 1_001)).toBe(true);
    expect(book.take(plan(10), 'q2', 0.07, 1_001)).toBe(true);
    expect(book.startSettle('q1', 0.08, 1_002)?.release).toBe(10_000_000);
    // q2's 0.07 is still in the lease, so the database still counts it as reserved.
    expect(book.stats()).toMatchObject({ leased: 70_000_000, held: 70_000_000 });
    expect(book.startSettle('q2', 0.07, 1_003)?.release).toBe(70_000_000);
    expect(book.stats()).toMatchObject({ leased: 0, held: 0 });
  });

  it('still sends a settle it gave up on to its lease when it lands later', () => {
    const { book, leaseId } = bookWithLease(1_000);
    expect(book.take(plan(10), 'q1', 0.01, 1_001)).toBe(true);
    const first = book.startSettle('q1', 0.004, 1_002);
    // The settle is not confirmed for longer than the book waits: the lease closes without it.
    const round = book.planRound(1_002 + 60_001);
    expect(round.returns).toEqual([{ leaseId, released: 76_000_000, granted: 80_000_000, close: true }]);
    book.applyRound(round, answered);
    expect(book.stats().leases).toBe(0);
    // Its retry draws on that lease (its row, or the sweep's charge of it), not as a request without one.
    expect(book.startSettle('q1', 0.004, 1_002 + 70_000)).toEqual(first);
    expect(book.holds('q1')).toBe(true);
    book.settled('q1');
    expect(book.startSettle('q1', 0.004, 1_002 + 70_001)).toBeUndefined();
  });
});
