/**
 * How much a lease should hold: each plan's (key and windows) recent rate of money asked for,
 * as an exponentially decaying average, and the largest request it has seen. A lease covers
 * `horizonMs` of that rate, so a busy key asks the database a few times a second at most, and
 * a replica killed with it strands no more than that much spend (docs/postgres.md).
 */

export interface DemandOptions {
  /** Time constant of the rate's decay. */
  tauMs: number;
  /** A lease holds this many milliseconds of the recent rate. */
  horizonMs: number;
  /** No lease smaller than this many of the largest request: below it, requests reserve one by one. */
  minRequests: number;
}

export interface Demand {
  /** Nano-dollars asked per millisecond, decayed to `at`. */
  rate: number;
  at: number;
  /** The largest single request (nano-dollars). */
  largest: number;
}

export const newDemand = (now: number): Demand => ({ rate: 0, at: now, largest: 0 });

function decayed(d: Demand, now: number, o: DemandOptions): number {
  const dt = Math.max(0, now - d.at);
  return d.rate * Math.exp(-dt / o.tauMs);
}

/** Counts one request of `nano` asked at `now`. */
export function noteDemand(d: Demand, nano: number, now: number, o: DemandOptions): void {
  d.rate = decayed(d, now, o) + nano / o.tauMs;
  d.at = Math.max(d.at, now);
  if (nano > d.largest) d.largest = nano;
}

/**
 * What a lease for this demand should hold (`want`) and the least worth leasing (`min`); `want`
 * is 0 when the plan is not busy enough to lease at all.
 */
export function leaseSize(d: Demand, now: number, o: DemandOptions): { want: number; min: number } {
  const min = o.minRequests * d.largest;
  const want = Math.floor(decayed(d, now, o) * o.horizonMs);
  return { want: want >= min && min > 0 ? want : 0, min };
}
