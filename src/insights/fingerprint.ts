import { randomBytes } from 'node:crypto';
import { leadingElementsEnd, topLevelMembers } from './json-members.js';
import { keyedHash } from './keyed-hash.js';

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
 * Fingerprints of one JSON request, from the bytes the client sent (`raw`) and the body the
 * gateway parsed from them: each top-level member's value is hashed as sent, in sorted key order,
 * volatile ones left out — one keyed SHA-256 pass over the body, nothing serialized again
 * (json-members.ts finds the members). The parsed body only says which leading messages are the
 * system prompt.
 */
export function fingerprintRequest(
  secret: Buffer,
  route: string,
  model: string,
  raw: Buffer,
  body: Record<string, unknown>,
): Fingerprints {
  const keyed = keyedHash(secret);
  // The pieces of each HMAC's message, hashed at the end in one call (keyed-hash.ts).
  const request: Array<string | Buffer> = [`${route}\u0000${model}`];
  const members = topLevelMembers(raw);
  if (!members) {
    // Not reached for a body JSON.parse accepted; the whole body, volatile fields and all, still
    // tells one request from another.
    request.push(raw);
    return { request: keyed.hex(request).slice(0, DIGITS), prefix: null, prefixTokens: 0 };
  }
  members.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // Each byte is hashed once: the prefix's bytes go into the prefix HMAC, whose digest then stands
  // for them in the request HMAC, so a long system prompt costs no second pass.
  let prefix: Array<string | Buffer> | undefined;
  let prefixBytes = 0;
  for (const { key, start, end } of members) {
    if (VOLATILE.has(key) || key === 'model') continue;
    let head = PREFIX_FIELDS.has(key) ? end : start;
    if (key === 'messages' || key === 'input') {
      const lead = Array.isArray(body[key]) ? leadingSystemMessages(body[key] as unknown[]) : 0;
      if (lead > 0) head = Math.max(start, leadingElementsEnd(raw, start, lead));
    }
    request.push(`\u0000${key}\u0001${head - start}\u0001`, raw.subarray(head, end));
    if (head > start) {
      prefix ??= [`prefix\u0000${model}`];
      prefix.push(`\u0000${key}\u0001`, raw.subarray(start, head));
      prefixBytes += head - start;
    }
  }
  const prefixDigest = prefix ? keyed.hex(prefix).slice(0, DIGITS) : emptyPrefixDigest(secret, model);
  request.push(`\u0000prefix\u0001${prefixDigest}`);
  const prefixTokens = Math.round(prefixBytes / BYTES_PER_TOKEN);
  const long = prefixTokens >= MIN_PREFIX_TOKENS;
  return {
    request: keyed.hex(request).slice(0, DIGITS),
    prefix: long ? prefixDigest : null,
    prefixTokens: long ? prefixTokens : 0,
  };
}

/** Models whose empty-prefix digest is kept per secret at most (a glob serves names clients pick). */
const EMPTY_PREFIXES = 1_000;
const emptyPrefixes = new WeakMap<Buffer, Map<string, string>>();

/**
 * The prefix digest of a request without a prefix (most requests): it depends only on the model,
 * so it is computed once per model rather than per request.
 */
function emptyPrefixDigest(secret: Buffer, model: string): string {
  let byModel = emptyPrefixes.get(secret);
  if (!byModel) {
    byModel = new Map();
    emptyPrefixes.set(secret, byModel);
  }
  let digest = byModel.get(model);
  if (digest === undefined) {
    digest = keyedHash(secret)
      .hex([`prefix\u0000${model}`])
      .slice(0, DIGITS);
    if (byModel.size >= EMPTY_PREFIXES) byModel.clear();
    byModel.set(model, digest);
  }
  return digest;
}

/**
 * The fingerprint of a multipart upload (an audio file to transcribe, an image to edit): its text
 * fields, serialized (they are few and short), and each file's SHA-256, taken as its bytes passed
 * (src/proxy/multipart.ts) and only ever kept inside this keyed hash. Two recordings sent with
 * the same fields are two requests; the same recording sent again is one.
 */
export function fingerprintUpload(
  secret: Buffer,
  route: string,
  model: string,
  fields: Record<string, unknown>,
  files: ReadonlyArray<{ field: string; sha256?: string }>,
): Fingerprints {
  const request = [`${route}\u0000${model}\u0000upload`];
  for (const name of Object.keys(fields).sort()) {
    if (VOLATILE.has(name) || name === 'model') continue;
    request.push(`\u0000${name}\u0001${JSON.stringify(fields[name])}`);
  }
  for (const file of files) request.push(`\u0000file\u0001${file.field}\u0001${file.sha256 ?? ''}`);
  return { request: keyedHash(secret).hex(request).slice(0, DIGITS), prefix: null, prefixTokens: 0 };
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
