import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyedHash } from '../../../src/insights/keyed-hash.js';

const reference = (secret: Buffer, parts: ReadonlyArray<string | Buffer>) => {
  const h = createHmac('sha256', secret);
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('keyed hash', () => {
  it("is createHmac's HMAC-SHA-256, byte for byte, for keys shorter, as long as and longer than a block", () => {
    for (const length of [0, 1, 32, 63, 64, 65, 200]) {
      const secret = randomBytes(length);
      for (const message of ['', 'a', 'prefix\u0000gpt-4o-mini', 'é'.repeat(300)]) {
        const raw = Buffer.from(`{"m":${JSON.stringify(message)}}`);
        const parts = [message, raw.subarray(2), '\u0000tail'];
        expect(keyedHash(secret).hex(parts)).toBe(reference(secret, parts));
      }
    }
  });

  it('gives the same HMAC to a message hashed in one call and to one too long for that (streamed)', () => {
    const secret = randomBytes(32);
    for (const size of [16 * 1024 - 10, 16 * 1024, 16 * 1024 + 1, 100_000]) {
      const parts = ['head\u0000', randomBytes(size), 'ü'];
      expect(keyedHash(secret).hex(parts)).toBe(reference(secret, parts));
    }
  });

  it('keeps nothing of one message in the next', () => {
    const secret = randomBytes(32);
    const keyed = keyedHash(secret);
    keyed.hex(['x'.repeat(100_000)]);
    keyed.hex(['left behind']);
    expect(keyed.hex(['x'])).toBe(reference(secret, ['x']));
    expect(keyed.hex(['x'])).toBe(keyed.hex(['x']));
  });
});
