import { createInFlight } from '../../../in-flight.js';
import type { SlotRequest } from '../../types.js';

/**
 * One replica's rate leases, as pure bookkeeping (rate-lease-manager.ts drives it against the
 * database): slices of a busy plan's rpm and tpm allowances, so its requests take their slot
 * without a round trip. A plan is the subjects a request's slot counts against (the key, and its
 * group when limited) with their limits; a plan's requests that are not busy take slots in the
 * database one by one. max_parallel is leased apart (slot-book.ts): a request with it takes its
 * rpm and tpm from a rate lease only once its parallel slot came from a slot lease.
 *
 * A lease counts `requests` requests and `tokens` tokens in every subject of its plan, stamped
 * with `stamp` (migration 18): requests take from it only before the stamp (by this replica's
 * clock when they take), so each stays counted in the rolling minute until at least 60 s after
 * it was admitted. A disable (or the replica closing) stops the taking earlier; the rows keep
 * their stamp, which trims match them by. Once taking stopped the lease is trimmed to what its requests used (tokens: the real count of those that ended, the
 * estimate of those still running), and forgotten once the minute has passed the stamp (its
 * rows have aged out). Trims carry absolute counts: a failed round is simply asked again.
 *
 * The database's count of a lease is never below what its requests used: a take happens here
 * only within what a grant's answer said, and a trim is computed from the takes.
 */

export interface RatePlan {
  subjects: string[];
  /** Aligned with subjects; null where the subject has no such limit. */
  rpm: (number | null)[];
  tpm: (number | null)[];
}

export interface RateBookOptions {
  /** A lease is taken from for this long after its grant, and sized to this much of the plan's rate. */
  horizonMs: number;
  /** Time constant of the decaying request and token rates. */
  tauMs: number;
  /** Nothing is leased below this many requests (or this many of the plan's largest request's tokens). */
  minRequests: number;
  newId: () => string;
}

interface RateLease {
  id: string;
  subjects: string[];
  /** The instant its rows carry (their key in rate_events and token_events, which trims match). */
  stamp: number;
  /** Requests take from it before this: its stamp, or earlier once its key is disabled or the replica closes. */
  stop: number;
  /** Granted; null when the plan has no rpm (tokens: no tpm). */
  requests: number | null;
  tokens: number | null;
  usedRequests: number;
  /** Estimates of requests in flight plus the real tokens of those that ended. */
  usedTokens: number;
  /** The counts the database holds for it (as granted, then as last trimmed). */
  synced: { requests: number | null; tokens: number | null };
}

interface PlanState {
  plan: RatePlan;
  sig: string;
  /** Requests and tokens per ms, decayed to `at`. */
  reqRate: number;
  tokRate: number;
  at: number;
  largestTokens: number;
  /** The last request of the plan: an idle plan is not leased. */
  lastTake: number;
  leases: RateLease[];
  /** A grant for it is in a round. */
  asking: boolean;
}

export interface RateGrant {
  id: string;
  sig: string;
  stamp: number;
  plan: RatePlan;
  wantRequests: number | null;
  minRequests: number | null;
  wantTokens: number | null;
  minTokens: number | null;
}

export interface RateTrim {
  id: string;
  stamp: number;
  subjects: string[];
  requests: number | null;
  tokens: number | null;
}

export interface RateRoundPlan {
  now: number;
  trims: RateTrim[];
  grants: RateGrant[];
}

/** A grant's answer: requests and tokens granted (0 both: refused). */
export type RateRoundResult = Map<string, { requests: number; tokens: number }>;

const WINDOW_MS = 60_000;

/** The rpm and tpm plan of a slot request (its max_parallel aside); null when it has neither. */
export function ratePlanOf(r: SlotRequest): RatePlan | null {
  const parts: Array<[string, SlotRequest | (SlotRequest['group'] & object)]> = [[r.key, r]];
  if (r.group) parts.push([r.group.subject, r.group]);
  const limited = parts.filter(([, l]) => l.rpm !== undefined || l.tpm !== undefined);
  if (limited.length === 0) return null;
  return {
    subjects: limited.map(([s]) => s),
    rpm: limited.map(([, l]) => l.rpm ?? null),
    tpm: limited.map(([, l]) => l.tpm ?? null),
  };
}

const hasRpm = (p: RatePlan) => p.rpm.some((x) => x !== null);
const hasTpm = (p: RatePlan) => p.tpm.some((x) => x !== null);

function decay(p: PlanState, now: number, o: RateBookOptions): void {
  const f = Math.exp(-Math.max(0, now - p.at) / o.tauMs);
  p.reqRate *= f;
  p.tokRate *= f;
  p.at = Math.max(p.at, now);
}

const fits = (l: RateLease, tokens: number, now: number) =>
  now < l.stop &&
  (l.requests === null || l.usedRequests < l.requests) &&
  (l.tokens === null || l.usedTokens + tokens <= l.tokens);

/** The grant a busy plan asks for, or null (idle, or not busy enough to lease). */
function wantOf(p: PlanState, now: number, o: RateBookOptions): RateGrant | null {
  decay(p, now, o);
  if (now - p.lastTake > o.horizonMs / 4) return null;
  const tpm = hasTpm(p.plan);
  const wantRequests = Math.floor(p.reqRate * o.horizonMs);
  const minTokens = o.minRequests * Math.max(1, p.largestTokens);
  const wantTokens = Math.floor(p.tokRate * o.horizonMs);
  if (wantRequests < o.minRequests || (tpm && wantTokens < minTokens)) return null;
  return {
    id: o.newId(),
    sig: p.sig,
    stamp: now + o.horizonMs,
    plan: p.plan,
    wantRequests: hasRpm(p.plan) ? wantRequests : null,
    minRequests: hasRpm(p.plan) ? o.minRequests : null,
    wantTokens: tpm ? wantTokens : null,
    minTokens: tpm ? minTokens : null,
  };
}

/** A plan's part of a round: trims of its leases past their stamp, and a grant when they run low. */
function planOf(
  p: PlanState,
  now: number,
  o: RateBookOptions,
): { trims: RateTrim[]; grant: RateGrant | null } {
  const trims: RateTrim[] = [];
  for (const l of p.leases) {
    if (now < l.stop) continue;
    const want = {
      requests: l.requests === null ? null : l.usedRequests,
      tokens: l.tokens === null ? null : l.usedTokens,
    };
    if (want.requests !== l.synced.requests || want.tokens !== l.synced.tokens)
      trims.push({ id: l.id, stamp: l.stamp, subjects: l.subjects, ...want });
  }
  // A new lease before the current ones run out: when none is more than half left.
  const fresh = p.leases.some(
    (l) =>
      l.stop - now > o.horizonMs / 2 &&
      (l.requests === null || l.usedRequests * 2 < l.requests) &&
      (l.tokens === null || l.usedTokens * 2 < l.tokens),
  );
  return { trims, grant: p.asking || fresh ? null : wantOf(p, now, o) };
}

/** The lease a grant's answer made; null when the database refused it (or did not answer). */
function leaseOfGrant(g: RateGrant, r: { requests: number; tokens: number } | undefined): RateLease | null {
  if (!r || (g.wantRequests !== null && r.requests <= 0) || (g.wantTokens !== null && r.tokens <= 0))
    return null;
  const requests = g.wantRequests === null ? null : r.requests;
  const tokens = g.wantTokens === null ? null : r.tokens;
  return {
    id: g.id,
    subjects: g.plan.subjects,
    stamp: g.stamp,
    stop: g.stamp,
    requests,
    tokens,
    usedRequests: 0,
    usedTokens: 0,
    synced: { requests, tokens },
  };
}

export function createRateBook(o: RateBookOptions) {
  const plans = new Map<string, PlanState>();
  /** Request id → the lease it took from and the tokens it was admitted with (not a Map: in-flight.ts). */
  const taken = createInFlight<{ lease: RateLease; tokens: number }, string>();

  const leaseOf = (id: string) => [...plans.values()].flatMap((p) => p.leases).find((l) => l.id === id);

  /** Forgets the leases whose rows have aged out of the minute, and the requests taken from them. */
  const forget = (p: PlanState, now: number) => {
    const kept = p.leases.filter((l) => now < l.stamp + WINDOW_MS);
    if (kept.length === p.leases.length) return;
    p.leases = kept;
    for (const [id, t] of taken.entries()) if (now >= t.lease.stamp + WINDOW_MS) taken.delete(id);
  };

  return {
    /** Takes the request's slot from a lease of its plan; false: take it in the database. */
    take(plan: RatePlan, id: string, tokens: number, now: number): boolean {
      const sig = JSON.stringify(plan);
      let p = plans.get(sig);
      if (!p) {
        p = {
          plan,
          sig,
          reqRate: 0,
          tokRate: 0,
          at: now,
          largestTokens: 0,
          lastTake: now,
          leases: [],
          asking: false,
        };
        plans.set(sig, p);
      }
      decay(p, now, o);
      p.lastTake = Math.max(p.lastTake, now);
      p.reqRate += 1 / o.tauMs;
      p.tokRate += tokens / o.tauMs;
      if (tokens > p.largestTokens) p.largestTokens = tokens;
      const lease = p.leases.find((l) => fits(l, tokens, now));
      if (!lease) return false;
      lease.usedRequests++;
      lease.usedTokens += tokens;
      // Only tpm needs the end of a request (its real tokens); rpm-only slots are never released.
      if (lease.tokens !== null) taken.set(id, { lease, tokens });
      return true;
    },

    /** Ends a request served from a lease (its real tokens replace the estimate); false: not leased. */
    end(id: string, tokens: number | undefined): boolean {
      const t = taken.get(id);
      if (!t) return false;
      taken.delete(id);
      if (tokens !== undefined) t.lease.usedTokens += tokens - t.tokens;
      return true;
    },

    /** Stops taking from the leases of plans whose key `revoked` names; they are trimmed next round. */
    revoke(revoked: (key: string) => boolean, now: number): void {
      for (const p of plans.values()) {
        if (!revoked(p.plan.subjects[0] ?? '')) continue;
        // Its rows keep their stamp (the trims find them by it); only the taking stops.
        for (const l of p.leases) l.stop = Math.min(l.stop, now);
        p.reqRate = 0;
        p.tokRate = 0;
      }
    },

    planRound(now: number): RateRoundPlan {
      const trims: RateTrim[] = [];
      const grants: RateGrant[] = [];
      for (const [sig, p] of plans) {
        forget(p, now);
        const part = planOf(p, now, o);
        trims.push(...part.trims);
        if (part.grant) {
          p.asking = true;
          grants.push(part.grant);
        } else if (!p.asking && p.leases.length === 0 && now - p.lastTake > o.horizonMs) plans.delete(sig);
      }
      return { now, trims, grants };
    },

    applyRound(plan: RateRoundPlan, result: RateRoundResult): void {
      for (const t of plan.trims) {
        const l = leaseOf(t.id);
        if (l) l.synced = { requests: t.requests, tokens: t.tokens };
      }
      for (const g of plan.grants) {
        const p = plans.get(g.sig);
        if (p) p.asking = false;
        const l = p ? leaseOfGrant(g, result.get(g.id)) : null;
        if (p && l) p.leases.push(l);
      }
    },

    /** The round failed: its trims are asked again next round; its grants are not used (rows age out). */
    roundFailed(plan: RateRoundPlan): void {
      for (const g of plan.grants) {
        const p = plans.get(g.sig);
        if (p) p.asking = false;
      }
    },

    /** Leases held, and the requests and tokens the database counts for them. */
    stats(): { leases: number; requests: number; tokens: number } {
      const all = [...plans.values()].flatMap((p) => p.leases);
      const sum = (f: (l: RateLease) => number | null) => all.reduce((a, l) => a + (f(l) ?? 0), 0);
      return {
        leases: all.length,
        requests: sum((l) => l.synced.requests),
        tokens: sum((l) => l.synced.tokens),
      };
    },
  };
}

export type RateBook = ReturnType<typeof createRateBook>;
