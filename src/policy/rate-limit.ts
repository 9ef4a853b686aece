import type { GroupConfig, KeyConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { RateStore, SlotResult } from '../store/types.js';
import { groupSubject } from '../windows/budget-subject.js';
import { storeUnavailable } from './store-unavailable.js';

export interface SlotGrant {
  /** Whether a parallel slot is held and must be released when the request ends. */
  held: boolean;
  /** OpenAI-style `x-ratelimit-*` headers for the response. */
  headers: Record<string, string>;
}

/** What a request's slot holds, so that it is ended (parallel slot freed, tokens settled) exactly so. */
export interface SlotHolding {
  /** The group subject (`@backend`) whose limits the slot also counts against. */
  group?: string;
  /** tpm is counted for the key or its group: the real tokens replace the estimate at the end. */
  tokens: boolean;
}

const TOKEN_RULE = 'input estimated from the body plus the output bound';

/**
 * Takes one request from the rpm, tpm and max_parallel allowances of the key and of its group,
 * all or nothing (shared by every replica through the store). A key and group with none of them
 * cost no store round trip. `tokens` is what tpm counts until the request ends: its estimated
 * input plus its output bound, like the money a budget reserves.
 */
export async function acquireRateSlot(
  store: Pick<RateStore, 'acquireSlot'>,
  r: { id: string; key: KeyConfig; group?: GroupConfig; tokens: number; now: number; leaseUntil: number },
): Promise<SlotGrant & { holding: SlotHolding }> {
  const { rpm, maxParallel, tpm } = r.key.limits;
  const g = r.group?.limits ?? {};
  const subject = r.group ? groupSubject(r.group.name) : undefined;
  const groupLimited = g.rpm !== undefined || g.maxParallel !== undefined || g.tpm !== undefined;
  const holding: SlotHolding = {
    ...(subject && groupLimited ? { group: subject } : {}),
    tokens: tpm !== undefined || g.tpm !== undefined,
  };
  if (rpm === undefined && maxParallel === undefined && tpm === undefined && !groupLimited)
    return { held: false, headers: {}, holding };
  // A request bigger than a whole minute's allowance can never fit: say so instead of "retry".
  for (const [who, limit] of [
    [`key '${r.key.name}'`, tpm],
    [`group '${r.group?.name}' of key '${r.key.name}'`, g.tpm],
  ] as const) {
    if (limit !== undefined && r.tokens > limit) {
      throw new GatewayError(
        'rate_limit_exceeded',
        `this request may use up to ${r.tokens} tokens (${TOKEN_RULE}), more than the ${limit} tokens per minute of ${who} (limits.tpm); lower max_tokens or send less input.`,
        { headers: { 'retry-after': '60' } },
      );
    }
  }
  let result: SlotResult;
  try {
    result = await store.acquireSlot({
      id: r.id,
      key: r.key.name,
      now: r.now,
      leaseUntil: r.leaseUntil,
      ...(rpm === undefined ? {} : { rpm }),
      ...(maxParallel === undefined ? {} : { maxParallel }),
      ...(tpm === undefined ? {} : { tpm }),
      ...(subject && groupLimited ? { group: { subject, ...g } } : {}),
      ...(holding.tokens ? { tokens: r.tokens } : {}),
    });
  } catch (err) {
    throw storeUnavailable(err, r.key.name);
  }
  const headers: Record<string, string> = {};
  if (rpm !== undefined) headers['x-ratelimit-limit-requests'] = String(rpm);
  if (tpm !== undefined) headers['x-ratelimit-limit-tokens'] = String(tpm);
  const held = maxParallel !== undefined || g.maxParallel !== undefined || holding.tokens;
  if (result.ok) {
    if (rpm !== undefined && result.remaining !== undefined) {
      headers['x-ratelimit-remaining-requests'] = String(Math.max(0, result.remaining));
    }
    return { held, headers, holding };
  }
  const retryAfter = Math.max(1, Math.ceil(result.retryAfterSec));
  headers['retry-after'] = String(retryAfter);
  const ofGroup = result.group !== undefined;
  if (rpm !== undefined && !ofGroup) {
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, result.remaining));
    headers['x-ratelimit-reset-requests'] = `${retryAfter}s`;
  }
  const who = ofGroup ? `group '${r.group?.name}' of key '${r.key.name}'` : `key '${r.key.name}'`;
  const limits = ofGroup ? g : r.key.limits;
  const message =
    result.limit === 'rpm'
      ? `${who} has used its ${limits.rpm} requests per minute (limits.rpm); retry in ${retryAfter} s.`
      : result.limit === 'tpm'
        ? `${who} has used its ${limits.tpm} tokens per minute (limits.tpm); this request may use up to ${r.tokens} tokens (${TOKEN_RULE}); retry in ${retryAfter} s.`
        : `${who} already has ${limits.maxParallel} requests in flight (limits.max_parallel); retry when one finishes.`;
  throw new GatewayError('rate_limit_exceeded', message, { headers });
}
