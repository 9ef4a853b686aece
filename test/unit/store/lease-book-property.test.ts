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
 * Random interleavings of requests, settles, lease rounds, lost answers, clock jumps, sweeps and
 * replica crashes, against a model of the database that does what migrations 13 and 14's
 * functions do (in nano-dollars). Whatever happens, the money really spent upstream (settled
 * costs, and the full hold of every request in flight or lost in a crash) never exceeds a limit;
 * once everything has settled, every live replica has returned its leases and the rest expired,
 * the database has charged every settled cost, and no more than that except what crashed
 * replicas held: no cost is charged twice (a late settle after a sweep), and no lease of a live
 * replica is charged as spend (a lost or failed return, a lease swept while its owner was cut off).
 */

const TTL = 30_000;
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
  /** Per spend row: holds of per-request reservations that expired (charged whole, as before leases). */
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
      if (!this.usage.has(id)) this.add(this.expiredHolds, r.key, r.amount);
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
  | { t: 'round'; r: number; outcome: 'ok' | 'failed' | 'lost' }
  | { t: 'time'; ms: number }
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
      costPct: fc.integer({ min: 0, max: 100 }),
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
      ),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({ t: fc.constant('time' as const), ms: fc.integer({ min: 1, max: 20_000 }) }),
    weight: 2,
  },
  { arbitrary: fc.record({ t: fc.constant('sweep' as const) }), weight: 1 },
  {
    arbitrary: fc.record({ t: fc.constant('crash' as const), r: replicaIdx, commitsLanded: fc.boolean() }),
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
      settleGiveUpMs: 15 * 60_000,
      roundLandsWithinMs: 6_000,
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

  const checkBound = () => {
    const exposure = new Map(spentUpstream);
    for (const rep of replicas)
      for (const q of [...rep.inFlight, ...rep.settling])
        for (const r of rowsOf(q.key)) exposure.set(r, (exposure.get(r) ?? 0) + (q.cost ?? q.amount));
    for (const [row, limit] of Object.entries(LIMITS))
      expect(exposure.get(row) ?? 0).toBeLessThanOrEqual(limit);
  };

  const commit = (rep: Replica, q: Request) => {
    const cost = q.cost ?? 0;
    if (q.leased) {
      const s = rep.book.startSettle(q.id, cost / 1e9, now);
      db.settleLeased(q.id, s?.leaseId ?? 'none', q.key, cost, s?.release ?? cost);
      rep.book.settled(q.id);
    } else db.settleReserved(q.id, q.key, cost);
    for (const r of rowsOf(q.key)) settledCosts.set(r, (settledCosts.get(r) ?? 0) + cost);
    addUpstream(q.key, cost);
  };

  for (const o of ops) {
    if (o.t === 'time') now += o.ms;
    else if (o.t === 'sweep') db.sweep(now);
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
        else {
          const result = db.round(plan);
          if (o.outcome === 'ok') rep.book.applyRound(plan, result);
          else rep.book.roundFailed(plan);
        }
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
    // Every settled cost is charged, and more only for what crashed replicas held (and the
    // holds of per-request reservations that expired before their settle, as before leases).
    expect(db.spent.get(row) ?? 0).toBeGreaterThanOrEqual(settledCosts.get(row) ?? 0);
    expect(db.spent.get(row) ?? 0).toBeGreaterThanOrEqual(spentUpstream.get(row) ?? 0);
    expect(db.spent.get(row) ?? 0).toBeLessThanOrEqual(
      (spentUpstream.get(row) ?? 0) + (stranded.get(row) ?? 0),
    );
  }
  return leasesHeld;
}

describe('budget leases under random interleavings', () => {
  it('never let spend and holds exceed a limit, and never lose a settled cost', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 600, size: 'max' }), (ops) => {
        run(ops);
      }),
      { numRuns: 150 },
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
