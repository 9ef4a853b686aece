import { createHash, type Hash, hash } from 'node:crypto';

/**
 * HMAC-SHA-256 (RFC 2104) for one secret, with the padded key prepared once: `crypto.createHmac`
 * set the key up again on every call, which cost ~3 µs of the ~4 an HMAC of a short request
 * took. A message of up to ONE_SHOT bytes (nearly every request) is hashed by two one-shot
 * `crypto.hash` calls over one buffer, with no Hash object at all; a longer one streams through
 * copies of SHA-256 states with the padded key already hashed in, so its bytes are not copied.
 * The digests are createHmac's, byte for byte (test/unit/insights/keyed-hash.test.ts):
 * fingerprints already in a store still match.
 */
export interface KeyedHash {
  /** The HMAC of the concatenation of `parts` (strings as UTF-8), as hex. */
  hex(parts: ReadonlyArray<string | Buffer>): string;
}

const BLOCK = 64;
const DIGEST = 32;
/** Messages up to this many bytes are copied into one buffer and hashed in one call. */
const ONE_SHOT = 16 * 1024;
const prepared = new WeakMap<Buffer, KeyedHash>();

/** The keyed hash of `secret`, prepared once per secret buffer (the store's secret is one per process). */
export function keyedHash(secret: Buffer): KeyedHash {
  let keyed = prepared.get(secret);
  if (!keyed) {
    keyed = prepare(secret);
    prepared.set(secret, keyed);
  }
  return keyed;
}

function prepare(secret: Buffer): KeyedHash {
  const key = Buffer.alloc(BLOCK);
  (secret.length > BLOCK ? createHash('sha256').update(secret).digest() : secret).copy(key);
  const pad = (byte: number) => {
    const block = Buffer.alloc(BLOCK);
    for (let i = 0; i < BLOCK; i++) block[i] = (key[i] as number) ^ byte;
    return block;
  };
  const innerPad = pad(0x36);
  const innerState = createHash('sha256').update(innerPad);
  // The outer hash's input is always its pad and the inner digest: one buffer, reused.
  const outer = Buffer.alloc(BLOCK + DIGEST);
  pad(0x5c).copy(outer);
  const outerState = createHash('sha256').update(outer.subarray(0, BLOCK));
  const finish = (inner: Buffer): string => {
    inner.copy(outer, BLOCK);
    return hash('sha256', outer, 'hex');
  };
  return {
    hex(parts) {
      let bytes = 0;
      for (const p of parts) bytes += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
      if (bytes > ONE_SHOT) {
        const h: Hash = innerState.copy();
        for (const p of parts) h.update(p);
        return outerState.copy().update(h.digest()).digest('hex');
      }
      const message = Buffer.allocUnsafe(BLOCK + bytes);
      innerPad.copy(message);
      let at = BLOCK;
      for (const p of parts) at += typeof p === 'string' ? message.write(p, at) : p.copy(message, at);
      return finish(hash('sha256', message, 'buffer'));
    },
  };
}
