/**
 * Lease arithmetic in whole nano-dollars (1e-9 USD). A lease is spent by many requests on one
 * replica; summing float costs there would drift, and a drift upwards would let the replica
 * spend a hair more than the database granted. Holds round up, grants round down, so the local
 * count is never above what the database holds for the lease. Integers are exact up to 9e15
 * nano-dollars (9 million dollars) per lease.
 */

export const NANO = 1_000_000_000;

/** A request's hold or cost in nano-dollars, rounded up. */
export function nanoUp(usd: number): number {
  if (!(usd > 0)) return 0;
  const n = usd * NANO;
  // 0.07 * 1e9 is 70000000.00000001: a float product within rounding noise of an integer is it.
  const near = Math.round(n);
  return Math.abs(n - near) < 1e-6 ? near : Math.ceil(n);
}

/** Decimal text for the database's `numeric` (exact). */
export function usdText(nano: number): string {
  const whole = Math.floor(nano / NANO);
  const frac = String(nano - whole * NANO).padStart(9, '0');
  return `${whole}.${frac}`;
}

/** Parses `numeric` text ("1.25", "0.000000001") into nano-dollars, rounding down. */
export function nanoOfText(text: string): number {
  const [whole = '0', frac = ''] = text.split('.');
  const digits = `${frac}000000000`.slice(0, 9);
  const sign = whole.startsWith('-') ? -1 : 1;
  return sign * (Math.abs(Number(whole)) * NANO + Number(digits));
}
