import { createInFlight, type InFlight } from '../../../in-flight.js';
import type { BudgetWindow } from '../../types.js';
import { type Demand, type DemandOptions, leaseSize, newDemand, noteDemand } from './demand.js';
import { nanoUp } from './money.js';

/**
 * One replica's budget leases, as pure bookkeeping (no I/O, no timers: lease-manager.ts drives
 * it). A lease is a reservation row that many requests share: the database counts its amount
 * as reserved in every period of one plan (a key's windows and its group's, with their limits),
 * so spent + reserved over the whole fleet stays within each limit. Requests whose plan matches
 * a lease hold their maximum cost out of it here, without a round trip; a settle moves the cost
 * from the lease to spent in the database (leased-settle.ts), and a round (planRound /
 * applyRound) grants, tops up, renews and returns leases in one statement.
 *
 * The local count of a lease is never above the database's: money leaves it here before the
 * database hears of it (a hold, a cost sent to settle, a release planned), and arrives only
 * after the database answered a grant. Whatever the database holds that this count does not
 * (a grant whose answer was lost, a settle given up) stays reserved until the row expires, and
 * is then charged: never returned as free budget.
 *
 * Returns are idempotent: a return carries the lease's running total released, and the database
 * applies only what it has not applied yet (migration 14). A lease stays in the book, draining,
 * until a round confirms its close, so a failed or lost round is simply asked again. A lease the
 * database swept (expired while this replica could not reach it) keeps draining too: its free
 * part is returned against what the sweep charged, and its settles draw from that charge.
 */

/** What a request must fit in: the key, every period it charges and its limited windows. */
export interface LeasePlan {
  key: string;
  /** Sorted, unique: the reserved periods of the request (budget.ts reservedPeriods). */
  periods: string[];
  windows: BudgetWindow[];
}

export interface LeaseBookOptions extends DemandOptions {
  /**
   * A lease row expires this long after the round that granted or renewed it (the database
   * then charges what it still holds). The replica stops taking from it halfway there, so a
   * sweep on a replica whose clock runs up to ttlMs / 2 ahead never expires a lease in use.
   */
  ttlMs: number;
  /** A lease not used for this long is returned. */
  idleMs: number;
  /**
   * How long a settle may stay unconfirmed before the lease stops waiting for it: its cost stays
   * charged, and if it lands later it draws on what the sweep charged (charged once).
   */
  settleGiveUpMs: number;
  /**
   * How long after a round was sent it may still commit in the database although the replica saw
   * it fail (a connection lost while the statement waited on a lock): the statement timeout, and a
   * margin. A first grant of such a round is looked for that long: a return that finds no row
   * before then does not close its lease, the grant may still land.
   */
  roundLandsWithinMs: number;
  newId: () => string;
}

interface Lease {
  id: string;
  sig: string;
  plan: LeasePlan;
  /** Nano-dollars this replica may still account for: granted, minus costs sent and releases planned. */
  amount: number;
  /** Nano-dollars held by requests in flight. */
  held: number;
  /** Settles sent and not yet confirmed. */
  settling: number;
  lastUsed: number;
  /** Epoch ms after which no request takes from it until a round renews it. */
  usableUntil: number;
  /** No row in the database yet: its first grant is being asked for. */
  fresh: boolean;
  /** Out of use (idle, stale, revoked): its free part is returned, then it is closed. */
  draining: boolean;
  /** Nano-dollars granted in total, as far as answers told (a lost answer's grant is not in it). */
  granted: number;
  /** Nano-dollars returned in total (planned), and the part a round confirmed. */
  released: number;
  confirmed: number;
  /** Expired and charged by a sweep: not renewed, its returns and settles go against that charge. */
  gone: boolean;
  /** A first grant whose round failed may still commit until then: its return is not final before. */
  landsUntil: number;
}

interface Hold {
  lease: Lease;
  nano: number;
  /** Epoch ms the request took its hold. */
  since: number;
  /** Epoch ms of the first settle attempt, or null while the request is in flight. */
  settlingSince: number | null;
  /** Nano-dollars its settle draws from the lease (set by the first settle attempt). */
  release: number;
}

export interface GrantAsk {
  leaseId: string;
  fresh: boolean;
  plan: LeasePlan;
  want: number;
  min: number;
  /** The plan's largest request: grants are whole multiples of it. */
  unit: number;
}

export interface ReturnAsk {
  leaseId: string;
  /** Running total released over the lease's life: the database applies what it has not yet. */
  released: number;
  /**
   * Running total granted as far as this replica knows: what the database granted beyond it (a
   * grant whose answer was lost) was never used, and goes back with this return.
   */
  granted: number;
  /** Nothing of it is held or settling: delete the row (or, if money remains, let it expire and be charged). */
  close: boolean;
}

export interface RoundPlan {
  /** The replica's clock when the round was planned; rows live until now + ttlMs. */
  now: number;
  until: number;
  grants: GrantAsk[];
  returns: ReturnAsk[];
  /** Leases to renew (everything still in the book). */
  renew: string[];
}

export interface RoundResult {
  /** Nano-dollars granted per lease id (0: refused, the room was too small). */
  granted: Map<string, number>;
  /** Leases the database no longer has (expired and charged by a sweep). */
  gone: Set<string>;
}

/** Where a leased request's settle goes: the lease to draw its cost from. */
export interface LeasedSettle {
  leaseId: string;
  key: string;
  periods: string[];
  /**
   * Nano-dollars the settle draws from the lease: its cost, or, for a cost above its hold, its hold
   * and what the lease has free (never what other requests still hold). The database draws exactly
   * this, so the lease row and this replica's count of it stay equal, and its close leaves nothing
   * to charge twice.
   */
  release: number;
  /** Epoch ms the request took its hold: its lease was swept, if ever, after that. */
  heldSince: number;
}

/**
 * Settles the book stopped waiting for (settleGiveUpMs) are remembered this many at most (the
 * usage writer's backlog holds as many records), so that one landing later still draws on its
 * lease or on the sweep's charge of it instead of being charged a second time.
 */
const GIVEN_UP_KEPT = 100_000;

export interface LeaseStats {
  leases: number;
  /** Nano-dollars this replica holds in leases (free and held by requests in flight). */
  leased: number;
  held: number;
}

export const signatureOf = (p: LeasePlan): string =>
  `${p.key}\u0000${p.periods.join('\u0001')}\u0000${p.windows.map((w) => `${w.period}=${w.limitUsd}`).join('\u0001')}`;

/** The book's state, shared by its methods and the round planning below. */
interface BookState {
  active: Map<string, Lease>;
  draining: Set<Lease>;
  holds: InFlight<Hold, string>;
  /** Settles given up (their lease closed without them): where they draw if they land later. */
  givenUp: Map<string, LeasedSettle>;
  demand: Map<string, { plan: LeasePlan; d: Demand }>;
}

/** A lease stops taking requests; the next rounds return its free part and close it. */
function drain(s: BookState, l: Lease): void {
  if (s.active.get(l.sig) === l) s.active.delete(l.sig);
  l.draining = true;
  s.draining.add(l);
}

/** A lease leaves the book (closed, or never granted). */
function forget(s: BookState, l: Lease): void {
  if (s.active.get(l.sig) === l) s.active.delete(l.sig);
  s.draining.delete(l);
}

const settleOf = (h: Hold): LeasedSettle => ({
  leaseId: h.lease.id,
  key: h.lease.plan.key,
  periods: h.lease.plan.periods,
  release: h.release,
  heldSince: h.since,
});

const newLease = (id: string, sig: string, plan: LeasePlan, now: number): Lease => ({
  id,
  sig,
  plan,
  amount: 0,
  held: 0,
  settling: 0,
  lastUsed: now,
  usableUntil: 0,
  fresh: true,
  draining: false,
  granted: 0,
  released: 0,
  confirmed: 0,
  gone: false,
  landsUntil: 0,
});

/** The grants (fresh leases and top-ups) the busy plans need. */
function planGrants(s: BookState, o: LeaseBookOptions, now: number): GrantAsk[] {
  const grants: GrantAsk[] = [];
  for (const [sig, dem] of s.demand) {
    const { want, min } = leaseSize(dem.d, now, o);
    const lease = s.active.get(sig);
    // Only plans asked for lately lease: a plan nobody uses any more holds no budget.
    if (want === 0 || now - dem.d.at > o.idleMs) {
      if (!lease && now - dem.d.at > o.idleMs) s.demand.delete(sig);
      continue;
    }
    if (lease) {
      const free = lease.amount - lease.held;
      if (!lease.fresh && free < want / 2)
        grants.push({
          leaseId: lease.id,
          fresh: false,
          plan: lease.plan,
          want: want - free,
          min,
          unit: dem.d.largest,
        });
      continue;
    }
    const fresh = newLease(o.newId(), sig, dem.plan, now);
    s.active.set(sig, fresh);
    grants.push({ leaseId: fresh.id, fresh: true, plan: dem.plan, want, min, unit: dem.d.largest });
  }
  return grants;
}

/** What the next round asks the database; the releases it plans leave the book now. */
function planRound(s: BookState, o: LeaseBookOptions, now: number): RoundPlan {
  for (const [id, h] of s.holds.entries()) {
    // Waited long enough: its cost stays in the lease, charged when the closed lease is swept.
    if (h.settlingSince !== null && now - h.settlingSince > o.settleGiveUpMs) {
      s.holds.delete(id);
      h.lease.settling--;
      // Its lease may close and be swept now; the settle, if it lands, still goes to that lease
      // (tollgate_settle_leased draws it from the row, or from the sweep's charge), never charged
      // a second time as a request without a lease.
      s.givenUp.set(id, settleOf(h));
      if (s.givenUp.size > GIVEN_UP_KEPT) s.givenUp.delete(s.givenUp.keys().next().value as string);
    }
  }
  for (const l of s.active.values()) if (now - l.lastUsed > o.idleMs) drain(s, l);
  const grants = planGrants(s, o, now);
  const returns: ReturnAsk[] = [];
  for (const l of s.draining) {
    const free = Math.max(0, l.amount - l.held);
    l.amount -= free;
    l.released += free;
    const close = l.held === 0 && l.settling === 0;
    // Asked again on every round until one confirms it: a failed round loses nothing.
    if (l.released === l.confirmed && !close) continue;
    returns.push({ leaseId: l.id, released: l.released, granted: l.granted, close });
  }
  // Renewed when a third of the time to live is left of their usable half: every ~5 s, not every round.
  const renew = [...s.active.values(), ...s.draining]
    .filter((l) => !l.fresh && !l.gone && l.usableUntil - now < o.ttlMs / 3)
    .map((l) => l.id);
  return { now, until: now + o.ttlMs, grants, returns, renew };
}

/** The database answered the round. */
function applyRound(s: BookState, o: LeaseBookOptions, plan: RoundPlan, result: RoundResult): void {
  const byId = new Map([...s.active.values(), ...s.draining].map((l) => [l.id, l]));
  const usableUntil = plan.now + o.ttlMs / 2;
  for (const id of plan.renew) {
    const lease = byId.get(id);
    if (lease && !result.gone.has(id)) lease.usableUntil = usableUntil;
  }
  for (const g of plan.grants) {
    const lease = byId.get(g.leaseId);
    if (!lease) continue;
    const granted = result.granted.get(g.leaseId) ?? 0;
    if (g.fresh && granted === 0) {
      forget(s, lease);
      continue;
    }
    if (g.fresh) lease.usableUntil = usableUntil;
    lease.fresh = false;
    lease.amount += granted;
    lease.granted += granted;
  }
  for (const r of plan.returns) {
    const lease = byId.get(r.leaseId);
    if (!lease) continue;
    lease.confirmed = Math.max(lease.confirmed, r.released);
    // A first grant that may still commit: returned again (with nothing known granted, so its
    // row goes back whole) until a return runs after it could have landed.
    if (r.close && plan.now >= lease.landsUntil) forget(s, lease);
  }
  // Swept: its free part goes back against what the sweep charged, its holds settle against it.
  for (const id of result.gone) {
    const lease = byId.get(id);
    // Closed by this very round (its return found the sweep's charge): nothing left to do.
    if (!lease || (!s.draining.has(lease) && s.active.get(lease.sig) !== lease)) continue;
    lease.gone = true;
    drain(s, lease);
  }
}

export function createLeaseBook(o: LeaseBookOptions) {
  const state: BookState = {
    active: new Map(),
    draining: new Set(),
    // Not a Map: one entry per request on a structure that lives for good (in-flight.ts says why).
    holds: createInFlight<Hold, string>(),
    givenUp: new Map(),
    demand: new Map(),
  };
  const { active, draining, holds, givenUp, demand } = state;
  const drainLease = (l: Lease) => drain(state, l);

  return {
    /**
     * Holds `amountUsd` for request `id` out of the plan's lease; false when there is none or it
     * has too little free (the request then reserves in the database as before).
     */
    take(plan: LeasePlan, id: string, amountUsd: number, now: number): boolean {
      const sig = signatureOf(plan);
      const nano = nanoUp(amountUsd);
      let dem = demand.get(sig);
      if (!dem) {
        dem = { plan, d: newDemand(now) };
        demand.set(sig, dem);
        // A key's plan changed (a reload, a group move, a new window): its other plans are stale,
        // their leases go back and their past demand asks for no new one.
        for (const l of active.values()) if (l.plan.key === plan.key && l.sig !== sig) drainLease(l);
        for (const [other, d] of demand) if (d.plan.key === plan.key && other !== sig) demand.delete(other);
      }
      noteDemand(dem.d, nano, now, o);
      const lease = active.get(sig);
      if (!lease || holds.has(id) || now >= lease.usableUntil || lease.amount - lease.held < nano)
        return false;
      lease.held += nano;
      lease.lastUsed = now;
      holds.set(id, { lease, nano, since: now, settlingSince: null, release: 0 });
      return true;
    },

    /** Whether `id` holds money of a lease (its settle goes to the lease). */
    holds: (id: string): boolean => holds.has(id) || givenUp.has(id),

    /**
     * A settle of a leased request is being sent with `costUsd`: its hold ends and its cost
     * leaves the lease (it moves to spent in the database). Called again on every retry; only
     * the first call counts.
     */
    startSettle(id: string, costUsd: number, now: number): LeasedSettle | undefined {
      const h = holds.get(id);
      if (!h) return givenUp.get(id);
      if (h.settlingSince === null) {
        h.settlingSince = now;
        h.lease.held -= h.nano;
        // A cost above its hold takes the rest from the lease's free part only: what other requests
        // still hold stays in the lease, where the database keeps counting it as reserved (drawn
        // down, another replica could take that room while they run). The database draws the same
        // amount; the rest of the cost is charged beyond it.
        h.release = Math.min(nanoUp(costUsd), Math.max(0, h.lease.amount - h.lease.held));
        h.lease.amount -= h.release;
        h.lease.settling++;
      }
      return settleOf(h);
    },

    /** The settle of `id` committed. */
    settled(id: string): void {
      givenUp.delete(id);
      const h = holds.get(id);
      if (!h || h.settlingSince === null) return;
      holds.delete(id);
      h.lease.settling--;
    },

    /** Stops using every lease of the keys `revoked` names (disabled): they are returned. */
    revoke(revoked: (key: string) => boolean): void {
      for (const l of [...active.values()]) if (revoked(l.plan.key)) drainLease(l);
      // Their past demand asks for no new lease: a key enabled again leases once it is busy again.
      for (const [sig, dem] of demand) if (revoked(dem.plan.key)) demand.delete(sig);
    },

    /** What the next round asks the database; the releases it plans leave the book now. */
    planRound: (now: number): RoundPlan => planRound(state, o, now),

    /** The database answered the round. */
    applyRound: (plan: RoundPlan, result: RoundResult): void => applyRound(state, o, plan, result),

    /**
     * The round failed (or its answer was lost): returns are asked again by the next round. A
     * fresh lease's grant may have committed, or may still (its statement waiting on a lock while
     * the connection was lost): it is closed, and its return (nothing known granted) gives back
     * whatever the row holds, asked until a return ran after the grant could have landed; a
     * top-up's goes back when its lease is returned (its row's lock orders the two).
     */
    roundFailed(plan: RoundPlan, now: number = plan.now): void {
      const fresh = new Set(plan.grants.filter((g) => g.fresh).map((g) => g.leaseId));
      for (const l of [...active.values()])
        if (fresh.has(l.id)) {
          // Its last attempt went before `now` (the failure seen), and may commit until its timeout.
          l.landsUntil = now + o.roundLandsWithinMs;
          drainLease(l);
        }
    },

    stats(): LeaseStats {
      let leases = 0;
      let leased = 0;
      let held = 0;
      for (const l of [...active.values(), ...draining]) {
        if (l.fresh || l.gone) continue;
        leases++;
        leased += l.amount;
        held += l.held;
      }
      return { leases, leased, held };
    },
  };
}

export type LeaseBook = ReturnType<typeof createLeaseBook>;
