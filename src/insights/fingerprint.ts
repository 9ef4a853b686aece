import { createHmac, randomBytes } from 'node:crypto';

/**
 * The two keyed hashes kept with each usage record (docs/insights.md#fingerprints): the request
 * fingerprint (route, model and body without volatile fields) finds loops and retries, and the
 * prompt-prefix fingerprint (system prompt, tools and leading system messages) finds long
 * prefixes sent again without cache reads. Both are HMAC-SHA-256 under a secret kept in the
 * store, never in the usage table: without it, a hash in the store cannot confirm a guessed
 * prompt, and two installations hash one request differently.
 */

/** Fields that change between two sendings of one request without changing what is asked. */
const VOLATILE = new Set([
  'stream',
  'stream_options',
  'user',
  'metadata',
  'safety_identifier',
  'prompt_cache_key',
  'request_id',
]);

/** Top-level fields that open every request of a conversation: the prefix a provider can cache. */
const PREFIX_FIELDS = new Set(['system', 'instructions', 'tools', 'tool_choice']);

/** Leading messages with these roles belong to the prefix (OpenAI's system prompt). */
const PREFIX_ROLES = new Set(['system', 'developer']);

/**
 * The smallest prefix worth caching: both providers cache from 1,024 tokens. Shorter prefixes get
 * no prefix fingerprint (nothing to save), which also keeps the column mostly empty.
 */
export const MIN_PREFIX_TOKENS = 1_024;

/** Bytes of JSON per token, for the prefix's size: the usual ~4 characters of text per token. */
const BYTES_PER_TOKEN = 4;

/** Hex digits kept of each HMAC: 128 bits, far past any collision among one store's records. */
const DIGITS = 32;

export interface Fingerprints {
  request: string;
  /** Null when the prefix is shorter than MIN_PREFIX_TOKENS. */
  prefix: string | null;
  /** The prefix's estimated size in tokens (0 without a prefix fingerprint). */
  prefixTokens: number;
}

/** A new secret for a store that has none (32 random bytes, hex). */
export function newFingerprintSecret(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Fingerprints of one request, from the body the gateway already parsed: each top-level field is
 * serialized once (in sorted order, volatile ones skipped) and fed to both HMACs as it applies.
 */
export function fingerprintRequest(
  secret: Buffer,
  route: string,
  model: string,
  body: Record<string, unknown>,
): Fingerprints {
  const request = createHmac('sha256', secret).update(`${route}\u0000${model}`);
  const prefix = createHmac('sha256', secret).update(`prefix\u0000${model}`);
  let prefixBytes = 0;
  for (const name of Object.keys(body).sort()) {
    if (VOLATILE.has(name) || name === 'model') continue;
    const value = body[name];
    if (value === undefined) continue;
    if ((name === 'messages' || name === 'input') && Array.isArray(value)) {
      const lead = leadingSystemMessages(value);
      const head = lead > 0 ? JSON.stringify(value.slice(0, lead)) : '';
      const rest = JSON.stringify(lead > 0 ? value.slice(lead) : value);
      request.update(`\u0000${name}\u0001${head}\u0002${rest}`);
      if (lead > 0) {
        prefix.update(`\u0000${name}\u0001${head}`);
        prefixBytes += head.length;
      }
      continue;
    }
    const text = JSON.stringify(value);
    request.update(`\u0000${name}\u0001${text}`);
    if (PREFIX_FIELDS.has(name)) {
      prefix.update(`\u0000${name}\u0001${text}`);
      prefixBytes += text.length;
    }
  }
  const prefixTokens = Math.round(prefixBytes / BYTES_PER_TOKEN);
  const long = prefixTokens >= MIN_PREFIX_TOKENS;
  return {
    request: request.digest('hex').slice(0, DIGITS),
    prefix: long ? prefix.digest('hex').slice(0, DIGITS) : null,
    prefixTokens: long ? prefixTokens : 0,
  };
}

function leadingSystemMessages(messages: unknown[]): number {
  let n = 0;
  for (const m of messages) {
    const role = typeof m === 'object' && m !== null ? (m as { role?: unknown }).role : undefined;
    if (typeof role !== 'string' || !PREFIX_ROLES.has(role)) break;
    n++;
  }
  return n;
}

/**
 * The store's fingerprint secret, made on first use: the first replica's value is kept and every
 * later one (and every restart) reads it back, so one request fingerprints alike across the fleet.
 */
export async function loadFingerprintSecret(store: {
  keepSecret(name: string, candidate: string): Promise<string>;
}): Promise<Buffer> {
  return Buffer.from(await store.keepSecret('fingerprint', newFingerprintSecret()), 'hex');
}
