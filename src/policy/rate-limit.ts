import type { KeyConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { Store } from '../store/types.js';
import { storeUnavailable } from './store-unavailable.js';

export interface SlotGrant {
  /** Whether a parallel slot is held and must be released when the request ends. */
  held: boolean;
  /** OpenAI-style `x-ratelimit-*` headers for the response. */
  headers: Record<string, string>;
}

/**
 * Takes one request from the key's rpm and max_parallel allowances (shared by every replica
 * through the store). A key with neither limit costs no store round trip.
 */
export async function acquireRateSlot(
  store: Store,
  r: { id: string; key: KeyConfig; now: number; leaseUntil: number },
): Promise<SlotGrant> {
  const { rpm, maxParallel } = r.key.limits;
  if (rpm === undefined && maxParallel === undefined) return { held: false, headers: {} };
  let result: Awaited<ReturnType<Store['acquireSlot']>>;
  try {
    result = await store.acquireSlot({
      id: r.id,
      key: r.key.name,
      now: r.now,
      leaseUntil: r.leaseUntil,
      ...(rpm === undefined ? {} : { rpm }),
      ...(maxParallel === undefined ? {} : { maxParallel }),
    });
  } catch (err) {
    throw storeUnavailable(err, r.key.name);
  }
  const headers: Record<string, string> = {};
  if (rpm !== undefined) headers['x-ratelimit-limit-requests'] = String(rpm);
  if (result.ok) {
    if (rpm !== undefined && result.remaining !== undefined) {
      headers['x-ratelimit-remaining-requests'] = String(Math.max(0, result.remaining));
    }
    return { held: maxParallel !== undefined, headers };
  }
  const retryAfter = Math.max(1, Math.ceil(result.retryAfterSec));
  headers['retry-after'] = String(retryAfter);
  if (rpm !== undefined) {
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, result.remaining));
    headers['x-ratelimit-reset-requests'] = `${retryAfter}s`;
  }
  const message =
    result.limit === 'rpm'
      ? `key '${r.key.name}' has used its ${rpm} requests per minute (limits.rpm); retry in ${retryAfter} s.`
      : `key '${r.key.name}' already has ${maxParallel} requests in flight (limits.max_parallel); retry when one finishes.`;
  throw new GatewayError('rate_limit_exceeded', message, { headers });
}
