import { createInFlight, type InFlight } from '../../../in-flight.js';
import type { SlotRequest } from '../../types.js';

/**
 * One replica's slot leases, as pure bookkeeping (slot-lease-manager.ts drives it against the
 * database, migration 23): max_parallel slots of a busy plan held by this replica, so its requests
 * take and free their slot without a round trip. A plan is a key and the subjects its requests
 * hold a parallel slot of (the key, and its group, where each has max_parallel), with those limits.
 *
 * A leased slot is one `inflight` row per subject of its plan, which every replica's per-request
 * check counts as taken: the fleet never holds more slots than a limit. The database forgets a
 * row at its `until`: a free slot's is at most `expiryMs` ahead (renewed by rounds while the plan
 * keeps it), a slot serving a request is stamped with that request's own lease (what a
 * per-request row carries) before the free slot's would end. A slot is taken from only while its
 * row is known to last at least `marginMs` more, so a round (every few hundred milliseconds, and
 * soon after each take) has that long to stamp it.
 *
 * Sizes: a plan holds about its recent peak concurrency on this replica (decaying with `tauMs`),
 * never grants more than a quarter of the room the database has left (migration 23), and none at
 * all while that room is used up: then (contended) its free slots go back at the next round, its
 * requests take their slots in the database one by one as before, until a round sees room for a
 * grant again. Idle, disabled and replaced (reloaded) plans give back their free slots at the next
 * round, and each slot as soon as its request ends.
 */

export interface SlotPlan {
  key: string;
  subjects: string[];
  /** Aligned with subjects. */
  maxParallel: number[];
}

export interface SlotBookOptions {
  /** A free leased slot's row lasts this long past a round that renewed it. */
  expiryMs: number;
  /** Taken from only while its row lasts this much longer. */
  marginMs: number;
  /** Time constant of the decaying request rate and peak concurrency. */
  tauMs: number;
  /** Leased only with at least this many requests in the last `tauMs` or so. */
  minRequests: number;
  /** Not leased once its last request is this old. */
  idleMs: number;
  newId: () => string;
}

interface Slot {
  id: string;
  /**
   * Until when the database keeps its rows at least: as last granted or renewed, and never above
   * a shorter value a round sent (applied or not, its answer may be lost).
   */
  until: number;
  /** The request it serves, and that request's own lease. */
  user: { id: string; leaseUntil: number } | null;
}

interface PlanState {
  plan: SlotPlan;
  sig: string;
  slots: Slot[];
  /** Decaying peak of this plan's requests in flight on this replica (leased or in the database). */
  peak: number;
  reqRate: number;
  at: number;
  lastTake: number;
  /** Requests of the plan holding a slot in the database (not leased). */
  inDb: number;
  asking: boolean;
  /** Its key is disabled, or the replica closes: nothing is taken, everything goes back. */
  stopped: boolean;
  /** The database had no room left: no slot is taken or granted until a round sees room again. */
  contended: boolean;
}

export interface SlotRoundPart {
  sig: string;
  subjects: string[];
  maxParallel: number[];
  trims: string[];
  renews: { id: string; until: number }[];
  grant: { id: string; want: number; until: number } | null;
}

export interface SlotRoundPlan {
  now: number;
  parts: SlotRoundPart[];
}

/** Per part of a round, aligned with its parts. */
export type SlotRoundResult = { granted: number; room: number; gone: string[] }[];

/** The slot plan of a request; null when neither the key nor its group has max_parallel. */
export function slotPlanOf(r: SlotRequest): SlotPlan | null {
  const subjects: string[] = [];
  const maxParallel: number[] = [];
  if (r.maxParallel !== undefined) {
    subjects.push(r.key);
    maxParallel.push(r.maxParallel);
  }
  if (r.group?.maxParallel !== undefined) {
    subjects.push(r.group.subject);
    maxParallel.push(r.group.maxParallel);
  }
  return subjects.length ? { key: r.key, subjects, maxParallel } : null;
}

/** Room left in the database at which a contended plan leases again (a grant is a quarter of it). */
const ROOM_TO_LEASE = 4;

function decay(p: PlanState, now: number, o: SlotBookOptions): void {
  const f = Math.exp(-Math.max(0, now - p.at) / o.tauMs);
  p.peak *= f;
  p.reqRate *= f;
  p.at = Math.max(p.at, now);
}

const inUse = (p: PlanState) => p.slots.reduce((n, s) => n + (s.user ? 1 : 0), 0);
const open = (p: PlanState) => !p.stopped && !p.contended;
/**
 * A key has one slot plan per config: a reload that changes its limits, or that moves it into,
 * out of or between groups (other subjects), replaces it.
 */
const headOf = (plan: SlotPlan) => plan.key;

/** Slots the plan should hold: its recent peak concurrency while busy, none otherwise. */
function targetOf(p: PlanState, now: number, o: SlotBookOptions): number {
  if (!open(p) || now - p.lastTake > o.idleMs || p.reqRate * o.tauMs < o.minRequests) return 0;
  return Math.ceil(p.peak - 0.25);
}

/**
 * A plan's part of a round: its free slots beyond its target go back (forgotten now: a round
 * that fails leaves their rows to expire), used slots are stamped with their request's lease,
 * free ones renewed (or shortened after a request), and a grant asked for what it lacks. Null
 * when it has nothing to ask.
 */
function partOf(p: PlanState, now: number, o: SlotBookOptions): SlotRoundPart | null {
  const target = targetOf(p, now, o);
  const free = p.slots.filter((s) => !s.user).sort((a, b) => a.until - b.until);
  const trimmed = new Set(free.slice(0, Math.max(0, p.slots.length - target)));
  if (trimmed.size) p.slots = p.slots.filter((s) => !trimmed.has(s));
  const renews: { id: string; until: number }[] = [];
  const renew = (s: Slot, until: number) => {
    renews.push({ id: s.id, until });
    // A row cut shorter may be cut whether or not the answer arrives: counted so from now on.
    if (until < s.until) s.until = until;
  };
  for (const s of p.slots) {
    if (s.user) {
      // Stamped to cover its request; one stamped by a longer request before is cut back to it.
      const u = s.user.leaseUntil;
      if (s.until < u || s.until > u + o.expiryMs) renew(s, u);
    } else if (s.until - now < o.expiryMs / 2 || s.until - now > 2 * o.expiryMs) {
      renew(s, now + o.expiryMs);
    }
  }
  const want = target - p.slots.length;
  const grant = want > 0 && !p.asking ? { id: o.newId(), want, until: now + o.expiryMs } : null;
  // A contended plan asks for nothing but still learns, from its round, when room is back.
  const probe = p.contended && !p.stopped && now - p.lastTake <= o.idleMs;
  if (trimmed.size + renews.length === 0 && !grant && !probe) return null;
  if (grant) p.asking = true;
  const trims = [...trimmed].map((s) => s.id);
  return { sig: p.sig, subjects: p.plan.subjects, maxParallel: p.plan.maxParallel, trims, renews, grant };
}

/** What the database answered for a plan's part: renewals, rows it no longer had, room, grant. */
function applyPart(p: PlanState, part: SlotRoundPart, r: SlotRoundResult[number] | undefined): void {
  if (part.grant) p.asking = false;
  if (!r) return;
  const gone = new Set(r.gone);
  for (const n of part.renews) {
    const s = p.slots.find((x) => x.id === n.id);
    if (s && !gone.has(n.id)) s.until = n.until;
  }
  if (gone.size) p.slots = p.slots.filter((s) => !gone.has(s.id));
  if (r.room < 1) p.contended = true;
  else if (r.room >= ROOM_TO_LEASE) p.contended = false;
  // Granted to a plan stopped meanwhile: held until the next round gives them back.
  if (part.grant && r.granted > 0)
    for (let k = 1; k <= r.granted; k++)
      p.slots.push({ id: `${part.grant.id}:${k}`, until: part.grant.until, user: null });
}

/** taken and inDb gain and lose an entry per request: not Maps (in-flight.ts says why). */
interface BookState {
  plans: Map<string, PlanState>;
  /** Request id → the slot it took. */
  taken: InFlight<{ plan: PlanState; slot: Slot }, string>;
  /** Request id → the plan it holds a database slot of, and until when that counts. */
  inDb: InFlight<{ plan: PlanState; leaseUntil: number }, string>;
  /** Key → its current plan's signature: a reload's new limits or group replace the old plan. */
  current: Map<string, string>;
}

function planFor(st: BookState, plan: SlotPlan, now: number): PlanState {
  const sig = JSON.stringify(plan);
  const known = st.plans.get(sig);
  if (known) return known;
  const p: PlanState = {
    plan,
    sig,
    slots: [],
    peak: 0,
    reqRate: 0,
    at: now,
    lastTake: now,
    inDb: 0,
    asking: false,
    stopped: false,
    contended: false,
  };
  st.plans.set(sig, p);
  // Same key under other limits or another group (a reload): the old plan gives its slots back.
  const old = st.plans.get(st.current.get(headOf(plan)) ?? '');
  if (old) old.stopped = true;
  st.current.set(headOf(plan), sig);
  return p;
}

/**
 * Forgets what the database no longer counts: slots whose rows expired (a long gap between
 * rounds; a request that never ended, past its own lease), database slots past their lease.
 */
function forget(st: BookState, now: number): void {
  for (const [id, d] of st.inDb.entries())
    if (d.leaseUntil <= now) {
      st.inDb.delete(id);
      d.plan.inDb = Math.max(0, d.plan.inDb - 1);
    }
  for (const p of st.plans.values())
    p.slots = p.slots.filter((s) => {
      if (s.user && s.user.leaseUntil <= now && s.until <= now) st.taken.delete(s.user.id);
      else if (s.user || s.until > now) return true;
      return false;
    });
}

const emptyState = (): BookState => ({
  plans: new Map(),
  taken: createInFlight(),
  inDb: createInFlight(),
  current: new Map(),
});

export function createSlotBook(o: SlotBookOptions) {
  const st = emptyState();
  const { plans, taken, inDb, current } = st;
  let served = 0;

  return {
    /** Takes a free leased slot for the request; false: take it in the database. */
    take(plan: SlotPlan, id: string, leaseUntil: number, now: number): boolean {
      const p = planFor(st, plan, now);
      decay(p, now, o);
      p.lastTake = Math.max(p.lastTake, now);
      p.reqRate += 1 / o.tauMs;
      p.peak = Math.max(p.peak, inUse(p) + p.inDb + 1);
      if (!open(p)) return false;
      const slot = p.slots.find((s) => !s.user && s.until - now >= o.marginMs);
      if (!slot) return false;
      slot.user = { id, leaseUntil };
      taken.set(id, { plan: p, slot });
      served++;
      return true;
    },

    /** Undoes a take that the request's rpm or tpm could not follow locally. */
    untake(id: string): void {
      const t = taken.get(id);
      if (!t) return;
      taken.delete(id);
      t.slot.user = null;
      served--;
    },

    /** The request holds a slot in the database (its plan's concurrency counts it). */
    tookInDb(plan: SlotPlan, id: string, leaseUntil: number): void {
      const p = plans.get(JSON.stringify(plan));
      if (!p || inDb.has(id)) return;
      p.inDb++;
      inDb.set(id, { plan: p, leaseUntil });
    },

    /**
     * Frees the request's slot: true when it was leased (then nothing goes to the database), with
     * `wantsRound` when its plan gives slots back (stopped or contended).
     */
    end(id: string): { leased: boolean; wantsRound: boolean } {
      const t = taken.get(id);
      if (t) {
        taken.delete(id);
        t.slot.user = null;
        return { leased: true, wantsRound: !open(t.plan) };
      }
      const d = inDb.get(id);
      if (d) {
        inDb.delete(id);
        d.plan.inDb = Math.max(0, d.plan.inDb - 1);
      }
      return { leased: false, wantsRound: false };
    },

    /** Stops (or resumes) the plans of the keys `revoked` names: they give their slots back. */
    revoke(revoked: (key: string) => boolean): void {
      for (const p of plans.values()) {
        if (revoked(p.plan.key)) p.stopped = true;
        else if (p.stopped && current.get(headOf(p.plan)) === p.sig) p.stopped = false;
      }
    },

    stopAll(): void {
      for (const p of plans.values()) p.stopped = true;
    },

    planRound(now: number): SlotRoundPlan {
      const parts: SlotRoundPart[] = [];
      forget(st, now);
      for (const [sig, p] of plans) {
        decay(p, now, o);
        const part = partOf(p, now, o);
        if (part) parts.push(part);
        else if (!p.asking && p.slots.length === 0 && p.inDb === 0 && now - p.lastTake > o.idleMs) {
          plans.delete(sig);
          if (current.get(headOf(p.plan)) === sig) current.delete(headOf(p.plan));
        }
      }
      return { now, parts };
    },

    applyRound(plan: SlotRoundPlan, result: SlotRoundResult): void {
      plan.parts.forEach((part, i) => {
        const p = plans.get(part.sig);
        if (p) applyPart(p, part, result[i]);
      });
    },

    /** The round failed: its renewals and grants did not happen (its trims' rows expire). */
    roundFailed(plan: SlotRoundPlan): void {
      for (const part of plan.parts) {
        const p = plans.get(part.sig);
        if (p && part.grant) p.asking = false;
      }
    },

    /** The ids of the slots serving a request now (their rows must outlast those requests). */
    slotsInUse(): string[] {
      return taken.values().map((t) => t.slot.id);
    },

    /** Slots held (their rows in the database), those serving a request, and requests served from them. */
    stats(): { slots: number; slotsInUse: number; slotsServed: number } {
      let slots = 0;
      let used = 0;
      for (const p of plans.values()) {
        slots += p.slots.length;
        used += inUse(p);
      }
      return { slots, slotsInUse: used, slotsServed: served };
    },
  };
}

export type SlotBook = ReturnType<typeof createSlotBook>;
