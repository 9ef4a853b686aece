/**
 * The last check on every amount of money the gateway computes or stores: a cost, a reservation,
 * a settlement. Usage reports are checked before they are priced (plausible-usage.ts), so this
 * throws only on a bug or an impossible price; it keeps a non-finite or negative number out of
 * spend, where it would refuse a key for the rest of the month ("has spent $Infinity") or hand
 * budget back.
 */
export function checkedUsd(usd: number, what: string): number {
  if (!Number.isFinite(usd) || usd < 0)
    throw new RangeError(`${what} is ${usd}, not a finite, non-negative amount of USD; refused`);
  return usd;
}
