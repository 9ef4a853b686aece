import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyedHash } from '../../../src/insights/keyed-hash.js';

describe('keyed hash', () => {
  it("is createHmac's HMAC-SHA-256, byte for byte, for keys shorter, as long as and longer than a block", () => {
    for (const length of [0, 1, 32, 63, 64, 65, 200]) {
      const secret = randomBytes(length);
      const keyed = keyedHash(secret);
      for (const message of ['', 'a', 'prefix\u0000gpt-4o-mini', 'é'.repeat(300)]) {
        const raw = Buffer.from(`{"m":${JSON.stringify(message)}}`);
        const ours = keyed.digest(keyed.start().update(message).update(raw.subarray(2)));
        const theirs = createHmac('sha256', secret).update(message).update(raw.subarray(2)).digest('hex');
        expect(ours).toBe(theirs);
      }
    }
  });

  it('starts every HMAC afresh (a prepared state is copied, never updated)', () => {
    const secret = randomBytes(32);
    const keyed = keyedHash(secret);
    keyed.start().update('left behind');
    const first = keyed.digest(keyed.start().update('x'));
    expect(keyed.digest(keyed.start().update('x'))).toBe(first);
    expect(first).toBe(createHmac('sha256', secret).update('x').digest('hex'));
  });
});
