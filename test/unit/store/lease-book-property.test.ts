import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createLeaseBook,
  type LeaseBook,
  type LeasePlan,
  type RoundPlan,
  type RoundResult,
} from '../../../src/store/postgres/leases/book.js';

/**
 * Random interleavings of requests, settles (costs up to twice their hold), lease rounds, lost
 * answers, rounds that fail on the replica while their first grants commit later, clock jumps
 * (past settleGiveUpMs too), sweeps and replica crashes, against a model of the database that does
 * what migrations 13, 14 and 17's functions do (in nano-dollars). Whatever happens, the database's
 * spent + reserved never counts less than the money really at risk upstream (settled costs, and
 * the full hold of every request in flight or lost in a crash), but for the part of costs above
 * their holds it has not been told of yet; so that money never exceeds a limit by more than the
 * costs above their holds. Once everything has settled, every live replica has returned its
 * leases and the rest expired, the database has charged every settled cost, and no more than that
 * except what crashed replicas held: no cost is charged twice (a late settle after a sweep or after
 * its lease gave up on it, an overshoot left in a lease row), and no lease of a live replica is
 * charged as spend (a lost or failed return, a lease swept while its owner was cut off, a first
 * grant that committed after its round failed).
 */

const TTL = 30_000;
const SETTLE_GIVE_UP_MS = 15 * 60_000;
const ROUND_LANDS_WITHIN_MS = 6_000;
const LIMITS: Record<string, number> = { 'a|d:1': 10_000, 'b|d:1': 15_000, '@g|d:1': 18_000 };
const PLANS: Record<'a' | 'b', LeasePlan> = {
  a: {
    key: 'a',
    periods: ['@g/d:1', 'd:1'],
    windows: [
      { period: 'd:1', limitUsd: 10_000 / 1e9 },
      { period: '@g/d:1', limitUsd: 18_000 / 1e9 },
    ],
  },
  b: {
    key: 'b',
    periods: ['@g/d:1', 'd:1'],
    windows: [
      { period: 'd:1', limitUsd: 15_000 / 1e9 },
      { period: '@g/d:1', limitUsd: 18_000 / 1e9 },
    ],
  },
};
const rowsOf = (key: string) => [`${key}|d:1`, '@g|d:1'];

/** The database as migration 13 keeps it: spend rows, per-request reservations and lease rows. */
class ModelDb {
  spent = new Map<string, number>();
  reserved = new Map<string, number>();
  reservations = new Map<string, { key: string; amount: number; until: number }>();
  leases = new Map<
    string,
    { key: string; amount: number; until: number; released: number; granted: number }
  >();
  /** lease_charges: what the sweep charged per lease, less what came back since. */
  charges = new Map<string, { key: string; charged: number; released: number; granted: number }>();
  usage = new Set<string>();
  /** Per-request reservations the sweep charged whole, with no settle yet (migration 17's record). */
  swept = new Map<string, { key: string; amount: number }>();
  /** Per spend row: holds of per-request reservations that expired and were never settled. */
  expiredHolds = new Map<string, number>();

  add(m: Map<string, number>, key: string, n: number) {
    for (const r of rowsOf(key)) m.set(r, (m.get(r) ?? 0) + n);
  }
  room(key: string): number {
    return Math.min(
      ...rowsOf(key).map((r) => (LIMITS[r] ?? 0) - (this.spent.get(r) ?? 0) - (this.reserved.get(r) ?? 0)),
    );
  }
  reserve(id: string, key: string, amount: number, until: number): boolean {
    if (this.room(key) < amount) return false;
    this.reservations.set(id, { key, amount, until });
    this.add(this.reserved, key, amount);
    return true;
  }
  settleReserved(id: string, key: string, cost: number) {
    // tollgate_unsweep (migration 17): a settle after the sweep takes the sweep's charge back.
    const s = this.swept.get(id);
    if (s) {
      this.swept.delete(id);
      this.usage.delete(id);
      this.add(this.spent, s.key, -s.amount);
      this.add(this.expiredHolds, s.key, -s.amount);
    }
    if (this.usage.has(id)) return;
    this.usage.add(id);
    const r = this.reservations.get(id);
    if (r) {
      this.reservations.delete(id);
      this.add(this.reserved, key, -r.amount);
    }
    this.add(this.spent, key, cost);
  }
  /** `draw`: what the lease book took off the lease for this settle (LeasedSettle.release). */
  settleLeased(id: string, leaseId: string, key: string, cost: number, draw: number) {
    if (this.usage.has(id)) return;
    this.usage.add(id);
    const l = this.leases.get(leaseId);
    const c = this.charges.get(leaseId);
    if (l) {
      const release = Math.min(draw, l.amount);
      l.amount -= release;
      this.add(this.reserved, key, -release);
    } else if (c) {
      // Swept: the sweep charged this cost already, with the rest of the lease.
      const back = Math.min(draw, c.charged);
      c.charged -= back;
      this.add(this.spent, key, -back);
    }
    this.add(this.spent, key, cost);
  }
  round(plan: RoundPlan): RoundResult {
    const gone = new Set<string>();
    for (const r of plan.returns) {
      const l = this.leases.get(r.leaseId);
      const c = this.charges.get(r.leaseId);
      // Granted beyond what the owner knows (a lost answer) was never used: it goes back, once.
      if (!l && c) {
        const extra = Math.max(0, c.granted - r.granted);
        const back = Math.min(Math.max(0, r.released - c.released) + extra, c.charged);
        c.charged -= back;
        c.released = Math.max(c.released, r.released);
        c.granted -= extra;
        this.add(this.spent, c.key, -back);
        gone.add(r.leaseId);
      }
      if (!l) continue;
      const extra = Math.max(0, l.granted - r.granted);
      const release = Math.min(Math.max(0, r.released - l.released) + extra, l.amount);
      l.amount -= release;
      l.released = Math.max(l.released, r.released);
      l.granted -= extra;
      this.add(this.reserved, l.key, -release);
      if (r.close && l.amount === 0) this.leases.delete(r.leaseId);
      else if (r.close) l.until = plan.now - 1;
    }
    for (const id of plan.renew) {
      const l = this.leases.get(id);
      if (l) l.until = plan.until;
      else gone.add(id);
    }
    const granted = new Map<string, number>();
    for (const g of plan.grants) {
      const existing = this.leases.get(g.leaseId);
      if (!g.fresh && !existing) {
        gone.add(g.leaseId);
        continue;
      }
      let n = Math.min(g.want, Math.floor(Math.max(0, this.room(g.plan.key)) / 4));
      if (g.unit > 0) n = Math.floor(n / g.unit) * g.unit;
      if (n < g.min) n = 0;
      granted.set(g.leaseId, n);
      if (n === 0) continue;
      if (existing) {
        existing.amount += n;
        existing.granted += n;
        existing.until = plan.until;
      } else
        this.leases.set(g.leaseId, {
          key: g.plan.key,
          amount: n,
          until: plan.until,
          released: 0,
          granted: n,
        });
      this.add(this.reserved, g.plan.key, n);
    }
    return { granted, gone };
  }
  /** recoverReservations: whatever an expired row still holds is charged. */
  sweep(now: number) {
    for (const [id, l] of this.leases) {
      if (l.until >= now) continue;
      this.leases.delete(id);
      if (l.amount === 0) continue;
      this.charges.set(id, { key: l.key, charged: l.amount, released: l.released, granted: l.granted });
      this.add(this.reserved, l.key, -l.amount);
      this.add(this.spent, l.key, l.amount);
    }
    for (const [id, r] of this.reservations) {
      if (r.until >= now) continue;
      this.reservations.delete(id);
      if (!this.usage.has(id)) {
        this.add(this.expiredHolds, r.key, r.amount);
        this.swept.set(id, { key: r.key, amount: r.amount });
      }
      this.usage.add(id);
      this.add(this.reserved, r.key, -r.amount);
      this.add(this.spent, r.key, r.amount);
    }
  }
}

interface Request {
  id: string;
  key: 'a' | 'b';
  amount: number;
  leased: boolean;
  /** Set once its settle was sent. */
  cost?: number;
}

interface Replica {
  /** A crashed replica's successor is another one: what the crashed one held stays its own. */
  life: number;
  book: LeaseBook;
  inFlight: Request[];
  settling: Request[];
}

type Op =
  | { t: 'request'; r: number; key: 'a' | 'b'; amount: number; n: number }
  | { t: 'finish'; r: number; pick: number; costPct: number }
  | { t: 'commit'; r: number; pick: number }
  | { t: 'round'; r: number; outcome: 'ok' | 'failed' | 'lost' | 'late' }
  /** The first grants of rounds that failed as 'late' commit now (if they still can). */
  | { t: 'land' }
  /** A round fails on the replica, `rounds` more of its rounds get through, then its first grants commit. */
  | { t: 'lateGrant'; r: number; rounds: number }
  | { t: 'time'; ms: number }
  /** The database unreachable for longer than settleGiveUpMs: settles in flight stay unconfirmed. */
  | { t: 'stall'; ms: number }
  | { t: 'sweep' }
  | { t: 'crash'; r: number; commitsLanded: boolean };

const replicaIdx = fc.integer({ min: 0, max: 2 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      t: fc.constant('request' as const),
      r: replicaIdx,
      key: fc.constantFrom('a' as const, 'b' as const),
      amount: fc.integer({ min: 20, max: 300 }),
      // A burst of requests of one key on one replica: what makes a plan busy enough to lease.
      n: fc.integer({ min: 1, max: 12 }),
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({
      t: fc.constant('finish' as const),
      r: replicaIdx,
      pick: fc.nat(),
      // Up to twice the hold (a provider billing above the estimate), often above it.
      costPct: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 100, max: 200 })),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ t: fc.constant('commit' as const), r: replicaIdx, pick: fc.nat() }), weight: 8 },
  {
    arbitrary: fc.record({
      t: fc.constant('round' as const),
      r: replicaIdx,
      outcome: fc.constantFrom(
        'ok' as const,
        'ok' as const,
        'ok' as const,
        'failed' as const,
        'lost' as const,
        // Failed on the replica (the connection lost while the statement waited on a lock), its
        // first grants commit in the database later: at the next 'land', if it comes in time.
        'late' as const,
        'late' as const,
      ),
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ t: fc.constant('land' as const) }), weight: 3 },
  {
    arbitrary: fc.record({
      t: fc.constant('lateGrant' as const),
      r: replicaIdx,
      rounds: fc.integer({ min: 0, max: 2 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      t: fc.constant('stall' as const),
      ms: fc.integer({ min: SETTLE_GIVE_UP_MS + 1, max: SETTLE_GIVE_UP_MS + 120_000 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ t: fc.constant('time' as const), ms: fc.integer({ min: 1, max: 20_000 }) }),
    weight: 2,
  },
  { arbitrary: fc.record({ t: fc.constant('sweep' as const) }), weight: 1 },
  {
    // Replica 0 never crashes: what a crashed replica held is charged, which would cover a cost
    // its leases charged twice; one replica living the whole run keeps that exact.
    arbitrary: fc.record({
      t: fc.constant('crash' as const),
      r: fc.integer({ min: 1, max: 2 }),
      commitsLanded: fc.boolean(),
    }),
    weight: 1,
  },
);

function run(ops: Op[]) {
  const db = new ModelDb();
  let now = 1_000_000;
  let seq = 0;
  const newBook = () =>
    createLeaseBook({
      // Small thresholds, so that short random runs lease often.
      tauMs: 5_000,
      horizonMs: 20_000,
      minRequests: 2,
      idleMs: 2_000,
      ttlMs: TTL,
      settleGiveUpMs: SETTLE_GIVE_UP_MS,
      roundLandsWithinMs: ROUND_LANDS_WITHIN_MS,
      newId: () => `lease:${seq++}`,
    });
  let lives = 0;
  const newReplica = (): Replica => ({ life: lives++, book: newBook(), inFlight: [], settling: [] });
  const replicas: Replica[] = [0, 1, 2].map(newReplica);
  /** Which replica life asked for each lease, and the lives that crashed. */
  const ownerOf = new Map<string, number>();
  const crashed = new Set<number>();
  /** Money really spent upstream per spend row: settled costs and crashed requests' holds. */
  const spentUpstream = new Map<string, number>();
  const addUpstream = (key: string, n: number) => {
    for (const r of rowsOf(key)) spentUpstream.set(r, (spentUpstream.get(r) ?? 0) + n);
  };
  const settledCosts = new Map<string, number>();
  /**
   * Per spend row: every cost's part above its hold (allowed beyond a limit: nobody can know it
   * before the response), and the part of those whose settle the database has not had (in flight
   * or lost in a crash): the only money at risk the database may not count.
   */
  const overshoot = new Map<string, number>();
  const unsettledOvershoot = new Map<string, number>();
  const addTo = (m: Map<string, number>, key: string, n: number) => {
    for (const r of rowsOf(key)) m.set(r, (m.get(r) ?? 0) + n);
  };
  /** Rounds that failed on their replica whose first grants may still commit until `before`. */
  let late: { plan: RoundPlan; before: number }[] = [];
  const land = () => {
    for (const { plan, before } of late)
      if (now < before)
        db.round({ ...plan, returns: [], renew: [], grants: plan.grants.filter((g) => g.fresh) });
    late = [];
  };

  const checkBound = () => {
    const exposure = new Map(spentUpstream);
    for (const rep of replicas)
      for (const q of [...rep.inFlight, ...rep.settling])
        for (const r of rowsOf(q.key)) exposure.set(r, (exposure.get(r) ?? 0) + (q.cost ?? q.amount));
    for (const [row, limit] of Object.entries(LIMITS)) {
      const atRisk = exposure.get(row) ?? 0;
      expect(atRisk).toBeLessThanOrEqual(limit + (overshoot.get(row) ?? 0));
      // What the database counts bounds what other replicas may still take: a lease row must keep
      // counting what its requests hold (a cost above its hold drawing other requests' holds out
      // of it would let the limit be passed by more than the overshoot, once they settle too).
      expect(atRisk).toBeLessThanOrEqual(
        (db.spent.get(row) ?? 0) + (db.reserved.get(row) ?? 0) + (unsettledOvershoot.get(row) ?? 0),
      );
    }
  };

  const commit = (rep: Replica, q: Request) => {
    const cost = q.cost ?? 0;
    // lease-manager settle: a request the book no longer knows settles as one without a lease.
    const s = q.leased ? rep.book.startSettle(q.id, cost / 1e9, now) : undefined;
    if (s) {
      // `release` is absent from books before 0546c65: their settles drew the whole cost.
      db.settleLeased(q.id, s.leaseId, q.key, cost, s.release ?? cost);
      rep.book.settled(q.id);
    } else db.settleReserved(q.id, q.key, cost);
    for (const r of rowsOf(q.key)) settledCosts.set(r, (settledCosts.get(r) ?? 0) + cost);
    addUpstream(q.key, cost);
    addTo(unsettledOvershoot, q.key, -Math.max(0, cost - q.amount));
  };

  for (const o of ops) {
    if (o.t === 'time' || o.t === 'stall') now += o.ms;
    else if (o.t === 'sweep') db.sweep(now);
    else if (o.t === 'land') land();
    else {
      const rep = replicas[o.r] as Replica;
      if (o.t === 'request') {
        for (let i = 0; i < o.n; i++) {
          const id = `q${seq++}`;
          const plan = PLANS[o.key];
          if (rep.book.take(plan, id, o.amount / 1e9, now))
            rep.inFlight.push({ id, key: o.key, amount: o.amount, leased: true });
          else if (db.reserve(id, o.key, o.amount, now + 3 * TTL))
            rep.inFlight.push({ id, key: o.key, amount: o.amount, leased: false });
          checkBound();
        }
      } else if (o.t === 'finish' && rep.inFlight.length > 0) {
        const [q] = rep.inFlight.splice(o.pick % rep.inFlight.length, 1) as [Request];
        q.cost = Math.floor((q.amount * o.costPct) / 100);
        addTo(overshoot, q.key, Math.max(0, q.cost - q.amount));
        addTo(unsettledOvershoot, q.key, Math.max(0, q.cost - q.amount));
        // The settle leaves the lease locally when it is sent, before the database has it.
        if (q.leased) rep.book.startSettle(q.id, q.cost / 1e9, now);
        rep.settling.push(q);
      } else if (o.t === 'commit' && rep.settling.length > 0) {
        const [q] = rep.settling.splice(o.pick % rep.settling.length, 1) as [Request];
        commit(rep, q);
      } else if (o.t === 'round') {
        const plan = rep.book.planRound(now);
        for (const g of plan.grants) ownerOf.set(g.leaseId, rep.life);
        if (o.outcome === 'failed') rep.book.roundFailed(plan);
        else if (o.outcome === 'late') {
          // Seen failed at plan.now: it may commit until then + roundLandsWithinMs (the book's margin).
          rep.book.roundFailed(plan);
          late.push({ plan, before: plan.now + ROUND_LANDS_WITHIN_MS });
        } else {
          const result = db.round(plan);
          if (o.outcome === 'ok') rep.book.applyRound(plan, result);
          else rep.book.roundFailed(plan);
        }
      } else if (o.t === 'lateGrant') {
        const plan = rep.book.planRound(now);
        for (const g of plan.grants) ownerOf.set(g.leaseId, rep.life);
        rep.book.roundFailed(plan);
        for (let i = 0; i < o.rounds; i++) {
          const next = rep.book.planRound(now);
          for (const g of next.grants) ownerOf.set(g.leaseId, rep.life);
          rep.book.applyRound(next, db.round(next));
        }
        // Within roundLandsWithinMs of the failure (no time passed): the statement still commits.
        late.push({ plan, before: now + 1 });
        land();
      } else if (o.t === 'crash') {
        // In flight: the upstream may bill the full hold, and nobody will settle it.
        for (const q of rep.inFlight) addUpstream(q.key, q.amount);
        for (const q of rep.settling) {
          if (o.commitsLanded) commit(rep, q);
          else addUpstream(q.key, q.cost ?? 0);
        }
        crashed.add(rep.life);
        replicas[o.r] = newReplica();
      }
    }
    checkBound();
  }

  const leasesHeld = replicas.reduce((n, r) => n + r.book.stats().leases, 0);
  // A late first grant still in time commits now.
  land();
  // Everything ends: requests finish, settles commit, leases expire and are swept.
  for (const rep of replicas) {
    for (const q of rep.inFlight.splice(0)) {
      q.cost = q.amount;
      if (q.leased) rep.book.startSettle(q.id, q.cost / 1e9, now);
      commit(rep, q);
    }
    for (const q of rep.settling.splice(0)) commit(rep, q);
  }
  checkBound();
  // Live replicas close (lease-manager close): every lease goes back; rounds get through now.
  const closeAll = () => {
    for (const rep of replicas) {
      rep.book.revoke(() => true);
      for (let i = 0; i < 3; i++) {
        const plan = rep.book.planRound(now);
        rep.book.applyRound(plan, db.round(plan));
      }
    }
  };
  closeAll();
  // What crashed replicas held is charged: their leases could not be proven unspent.
  const stranded = new Map<string, number>();
  const strand = (id: string, key: string, n: number) => {
    const life = ownerOf.get(id);
    if (life === undefined || !crashed.has(life)) return;
    for (const r of rowsOf(key)) stranded.set(r, (stranded.get(r) ?? 0) + n);
  };
  for (const [id, l] of db.leases) strand(id, l.key, l.amount);
  for (const [id, c] of db.charges) strand(id, c.key, c.charged);
  db.sweep(now + 10 * TTL);
  for (const [row, n] of db.expiredHolds) stranded.set(row, (stranded.get(row) ?? 0) + n);
  // A replica whose leases were swept before it got through returns them against the charge.
  closeAll();
  for (const row of Object.keys(LIMITS)) {
    expect(db.reserved.get(row) ?? 0).toBe(0);
    // Less than the money spent upstream only by costs above their holds whose settle never
    // reached it (lost in a crash).
    expect(db.spent.get(row) ?? 0).toBeGreaterThanOrEqual(
      (spentUpstream.get(row) ?? 0) - (unsettledOvershoot.get(row) ?? 0),
    );
    // Every settled cost is charged once, plus exactly what crashed replicas left (their lease rows,
    // and per-request reservations they never settled, charged whole): not compared with the money
    // spent upstream, whose crashed holds are in those rows too and would hide a cost charged twice.
    expect(db.spent.get(row) ?? 0).toBe((settledCosts.get(row) ?? 0) + (stranded.get(row) ?? 0));
  }
  return leasesHeld;
}

/** Counterexamples the property found (shrunk) against earlier books: always run first. */
const burst = (r: number, n: number): Op => ({ t: 'request', r, key: 'a', amount: 20, n });
const FOUND: [Op[]][] = [
  // Before 7dcdcd8: a cost of 21 above its hold of 20 drew 1 of the other request's hold out of
  // the lease row: the database counted 60 while 61 was at risk.
  [
    [
      burst(0, 1),
      { t: 'round', r: 0, outcome: 'ok' },
      burst(0, 2),
      { t: 'time', ms: 2_001 },
      { t: 'round', r: 0, outcome: 'ok' },
      { t: 'finish', r: 0, pick: 1, costPct: 105 },
      { t: 'commit', r: 0, pick: 0 },
    ],
  ],
  // Before 0546c65: a settle given up (settleGiveUpMs) settled as a request without a lease, on top of
  // the sweep's charge of its lease (22 charged for 21).
  [
    [
      burst(0, 1),
      { t: 'round', r: 0, outcome: 'ok' },
      burst(0, 1),
      { t: 'finish', r: 0, pick: 1, costPct: 5 },
      { t: 'stall', ms: SETTLE_GIVE_UP_MS + 1 },
      { t: 'round', r: 0, outcome: 'ok' },
    ],
  ],
  // Before 2675016: a first grant committed after its round failed and after the next round had
  // returned (and forgotten) its lease: the sweep charged 100 for 20 spent.
  [
    [
      burst(0, 1),
      { t: 'round', r: 0, outcome: 'late' },
      { t: 'round', r: 0, outcome: 'ok' },
      { t: 'land' },
      { t: 'stall', ms: SETTLE_GIVE_UP_MS + 1 },
    ],
  ],
];

describe('budget leases under random interleavings', () => {
  it('never let spend and holds exceed a limit, and never lose a settled cost', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 600, size: 'max' }), (ops) => {
        run(ops);
      }),
      { numRuns: 150, examples: FOUND },
    );
  });

  it('serves a busy key from a lease once a round has granted one', () => {
    const requests: Op[] = Array.from({ length: 6 }, () => ({
      t: 'request',
      r: 0,
      key: 'a',
      amount: 500,
      n: 1,
    }));
    const leases = run([...requests, { t: 'round', r: 0, outcome: 'ok' }, ...requests]);
    expect(leases).toBe(1);
  });
});
