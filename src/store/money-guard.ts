import { checkedUsd } from '../pricing/money.js';
import type { ReserveRequest, UsageRecord } from './types.js';

/*
 * Belt and braces at the store's door: metering never produces a non-finite or negative amount
 * (plausible-usage.ts, money.ts), and if a bug ever did, the store refuses it rather than
 * write it into spend, where Infinity would block the key for the rest of the month and a
 * negative amount would hand budget back.
 */

export function checkedReserve(r: ReserveRequest): ReserveRequest {
  checkedUsd(r.amountUsd, `the reservation of request ${r.id}`);
  return r;
}

export function checkedSettle(u: UsageRecord): UsageRecord {
  checkedUsd(u.costUsd, `the cost of request ${u.requestId}`);
  for (const [field, n] of [
    ['inputTokens', u.inputTokens],
    ['outputTokens', u.outputTokens],
    ['cachedTokens', u.cachedTokens],
    ['cacheWriteTokens', u.cacheWriteTokens ?? 0],
  ] as const) {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError(`${field} of request ${u.requestId} is ${n}, not a token count; refused`);
  }
  return u;
}
