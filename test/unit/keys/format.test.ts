import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkKeyFormat, crc32, hashKey, KEY_PATTERN, maskKey, mintKey } from '../../../src/keys/format.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('key format', () => {
  it('mints keys of tgk_ plus 38 base62 characters that pass their own check', () => {
    for (let i = 0; i < 200; i++) {
      const key = mintKey();
      expect(key).toMatch(/^tgk_[0-9A-Za-z]{38}$/);
      expect(KEY_PATTERN.test(key)).toBe(true);
      expect(checkKeyFormat(key)).toBe(true);
    }
  });

  it('mints a different key every time', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => mintKey()));
    expect(keys.size).toBe(1000);
  });

  it('uses every base62 character in the random part, so rejection sampling keeps the full alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) for (const c of mintKey().slice(4, 36)) seen.add(c);
    expect(seen.size).toBe(62);
  });

  it('fails the check when any single character of a key is changed', () => {
    const key = mintKey();
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 41 }), fc.integer({ min: 1, max: 61 }), (pos, shift) => {
        const original = key[pos] as string;
        const replaced = ALPHABET[(ALPHABET.indexOf(original) + shift) % 62] as string;
        const changed = key.slice(0, pos) + replaced + key.slice(pos + 1);
        expect(checkKeyFormat(changed)).toBe(false);
      }),
    );
  });

  it('rejects a wrong prefix, a wrong length and characters outside base62', () => {
    const key = mintKey();
    expect(checkKeyFormat(`tgx_${key.slice(4)}`)).toBe(false);
    expect(checkKeyFormat(key.slice(0, -1))).toBe(false);
    expect(checkKeyFormat(`${key}0`)).toBe(false);
    expect(checkKeyFormat(`${key.slice(0, 10)}-${key.slice(11)}`)).toBe(false);
    expect(checkKeyFormat('')).toBe(false);
  });

  it('computes the same CRC32 as zlib', () => {
    expect(crc32('')).toBe(0);
    expect(crc32('123456789')).toBe(0xcbf43926);
    // zlib.crc32 is missing from older Node 20 releases; compare against it where it exists.
    if (typeof zlibCrc32 === 'function') {
      fc.assert(
        fc.property(fc.string(), (s) => {
          expect(crc32(s)).toBe(zlibCrc32(s));
        }),
      );
    }
  });

  it('hashes the whole key string as sha256:<64 hex>', () => {
    expect(hashKey('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashKey(mintKey())).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('masks a key to its first two and last four characters', () => {
    const key = mintKey();
    const masked = maskKey(key);
    expect(masked).toBe(`${key.slice(0, 6)}…${key.slice(-4)}`);
    expect(masked.length).toBe(11);
    expect(maskKey('short')).toBe('…');
  });
});
