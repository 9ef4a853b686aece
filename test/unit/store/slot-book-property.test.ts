import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createSlotBook,
  type SlotBook,
  type SlotPlan,
  type SlotRoundPlan,
  type SlotRoundResult,
} from '../../../src/store/postgres/leases/slot-book.js';

/**
 * Random interleavings of requests, request ends, slot lease rounds (answered, failed, answer
 * lost), clock steps and replica crashes on three replicas, against a model of the database that
 * does what migration 23's tollgate_slot_round and the per-request slot path do. Rounds may fail
 * or lose their answer at will; the one assumption (docs/postgres.md#rate-leases) is that a live
 * replica gets a round through at least once within the take margin. Whatever happens, the
 * requests in flight on live replicas never pass max_parallel, each of them is covered by an
 * unexpired row, and a dead replica's rows are gone once its requests' leases and the slot expiry
 * have passed.
 */

const MAX = 16;
const EXPIRY = 2_000;
const MARGIN = 500;
const PLAN: SlotPlan = { key: 'k', subjects: ['k'], maxParallel: [MAX] };

/** The database: one subject's inflight rows (id → lease_until). */
function modelDb() {
  const rows = new Map<string, number>();
  const expire = (now: number) => {
    for (const [id, until] of rows) if (until <= now) rows.delete(id);
  };
  return {
    rows,
    /** The per-request path: a slot when fewer than MAX rows are unexpired. */
    acquire(id: string, leaseUntil: number, now: number): boolean {
      expire(now);
      if (rows.size >= MAX) return false;
      rows.set(id, leaseUntil);
      return true;
    },
    release: (id: string) => rows.delete(id),
    round(plan: SlotRoundPlan): SlotRoundResult {
      return plan.parts.map((part) => {
        for (const id of part.trims) rows.delete(id);
        expire(plan.now);
        const gone: string[] = [];
        for (const r of part.renews)
          if (rows.has(r.id)) rows.set(r.id, r.until);
          else gone.push(r.id);
        const room = Math.max(0, MAX - rows.size);
        let granted = 0;
        if (part.grant) {
          granted = Math.min(part.grant.want, Math.floor(room / 4));
          if (granted < 1) granted = 0;
          for (let k = 1; k <= granted; k++) rows.set(`${part.grant.id}:${k}`, part.grant.until);
        }
        return { granted, room, gone };
      });
    },
  };
}

type Op =
  | { kind: 'take'; r: number; life: number }
  | { kind: 'end'; pick: number }
  | { kind: 'round'; r: number; outcome: 'ok' | 'fail' | 'lost' }
  | { kind: 'tick'; ms: number }
  | { kind: 'crash'; r: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 100,
    arbitrary: fc.record({
      kind: fc.constant('take' as const),
      r: fc.nat(2),
      life: fc.integer({ min: 50, max: 20_000 }),
    }),
  },
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('end' as const), pick: fc.nat(1_000) }) },
  {
    weight: 60,
    arbitrary: fc.record({
      kind: fc.constant('round' as const),
      r: fc.nat(2),
      outcome: fc.constantFrom('ok' as const, 'fail' as const, 'lost' as const),
    }),
  },
  {
    weight: 80,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 200 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), r: fc.nat(2) }) },
);

interface Replica {
  book: SlotBook;
  alive: boolean;
  lastOk: number;
  /** Requests in flight on it: id → leased, and its lease. */
  flying: Map<string, { leased: boolean; leaseUntil: number }>;
}

/** Runs the interleaving; answers how many requests were served from leases. */
function run(ops: Op[]): number {
  const db = modelDb();
  let now = 1_000_000;
  let seq = 0;
  const replicas: Replica[] = [0, 1, 2].map((i) => ({
    book: createSlotBook({
      expiryMs: EXPIRY,
      marginMs: MARGIN,
      tauMs: 2_000,
      minRequests: 1,
      idleMs: 1_000,
      newId: () => `slease:${i}:${seq++}`,
    }),
    alive: true,
    lastOk: now,
    flying: new Map(),
  }));

  const round = (x: Replica, outcome: 'ok' | 'fail' | 'lost') => {
    const plan = x.book.planRound(now);
    if (outcome === 'fail') return x.book.roundFailed(plan);
    const result = db.round(plan);
    if (outcome === 'lost') return x.book.roundFailed(plan);
    x.book.applyRound(plan, result);
    x.lastOk = now;
  };

  const check = () => {
    let flying = 0;
    for (const x of replicas) if (x.alive) flying += x.flying.size;
    const unexpired = [...db.rows.values()].filter((u) => u > now).length;
    expect(flying).toBeLessThanOrEqual(MAX);
    expect(unexpired).toBeGreaterThanOrEqual(flying);
    // Each request served from a lease holds a slot whose row the database still counts.
    for (const x of replicas)
      if (x.alive) for (const id of x.book.slotsInUse()) expect(db.rows.get(id) ?? 0).toBeGreaterThan(now);
  };

  for (const op of ops) {
    if (op.kind === 'take') {
      const x = replicas[op.r] as Replica;
      if (!x.alive) continue;
      const id = `q${seq++}`;
      const leaseUntil = now + op.life;
      if (x.book.take(PLAN, id, leaseUntil, now)) x.flying.set(id, { leased: true, leaseUntil });
      else if (db.acquire(id, leaseUntil, now)) {
        x.book.tookInDb(PLAN, id, leaseUntil);
        x.flying.set(id, { leased: false, leaseUntil });
      }
    } else if (op.kind === 'end') {
      const all = replicas.flatMap((x) => (x.alive ? [...x.flying.keys()].map((id) => ({ x, id })) : []));
      const e = all[op.pick % Math.max(1, all.length)];
      if (!e) continue;
      e.x.flying.delete(e.id);
      if (!e.x.book.end(e.id).leased) db.release(e.id);
    } else if (op.kind === 'round') {
      const x = replicas[op.r] as Replica;
      if (x.alive) round(x, op.outcome);
    } else if (op.kind === 'tick') {
      now += op.ms;
      // A request past its own lease has ended (the upstream timeout bounds it).
      for (const x of replicas)
        for (const [id, f] of x.flying)
          if (f.leaseUntil <= now) {
            x.flying.delete(id);
            if (!x.book.end(id).leased) db.release(id);
          }
      // The one assumption: a live replica gets a round through within the take margin.
      for (const x of replicas) if (x.alive && now - x.lastOk >= MARGIN - 250) round(x, 'ok');
    } else {
      const x = replicas[op.r] as Replica;
      x.alive = false;
      x.flying.clear();
    }
    check();
  }

  // Whatever the dead held is free once their requests' leases and the expiry have passed.
  now += 20_000 + EXPIRY + 1;
  const dead = replicas.map((x, i) => (x.alive ? null : `slease:${i}:`)).filter((p) => p !== null);
  for (const [id, until] of db.rows)
    if (dead.some((p) => id.startsWith(p))) expect(until).toBeLessThanOrEqual(now);
  return replicas.reduce((a, x) => a + x.book.stats().slotsServed, 0);
}

describe('slot leases under random interleavings (model of migration 23)', () => {
  it('never has more requests in flight than max_parallel, each covered by an unexpired row', () => {
    let leased = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 600, size: 'max' }), (ops) => {
        if (run(ops) > 0) leased++;
      }),
      { numRuns: 300 },
    );
    // The interleavings do reach the leases: most runs serve requests from them.
    expect(leased).toBeGreaterThan(100);
  });

  it('never takes a slot whose row a round with a lost answer cut shorter (found by the property)', () => {
    const ops: Op[] = [
      { kind: 'take', r: 2, life: 50 },
      { kind: 'round', r: 2, outcome: 'ok' },
      { kind: 'take', r: 2, life: 2301 },
      { kind: 'tick', ms: 138 },
      { kind: 'tick', ms: 14 },
      { kind: 'tick', ms: 98 },
      { kind: 'end', pick: 0 },
      { kind: 'take', r: 2, life: 50 },
      { kind: 'round', r: 2, outcome: 'lost' },
      { kind: 'tick', ms: 50 },
      { kind: 'take', r: 2, life: 50 },
      { kind: 'take', r: 0, life: 50 },
      { kind: 'tick', ms: 1 },
      { kind: 'round', r: 0, outcome: 'ok' },
    ];
    run(ops);
  });

  it('leases slots to a busy replica and serves requests from them', () => {
    const book = createSlotBook({
      expiryMs: EXPIRY,
      marginMs: MARGIN,
      tauMs: 2_000,
      minRequests: 1,
      idleMs: 1_000,
      newId: () => 'slease:x',
    });
    const db = modelDb();
    let now = 0;
    for (let i = 0; i < 4; i++) {
      const id = `w${i}`;
      if (!book.take(PLAN, id, now + 10_000, now) && db.acquire(id, now + 10_000, now))
        book.tookInDb(PLAN, id, now + 10_000);
    }
    now += 10;
    const plan = book.planRound(now);
    book.applyRound(plan, db.round(plan));
    // A quarter of the room left (16 less the 4 requests in flight), short of the 4 it wants.
    expect(book.stats().slots).toBe(3);
    expect(book.take(PLAN, 'leased', now + 10_000, now)).toBe(true);
    expect(book.stats()).toMatchObject({ slots: 3, slotsInUse: 1, slotsServed: 1 });
  });
});
