import { createHash, randomBytes } from 'node:crypto';

/**
 * The `tgk_` key format (docs/secret-scanning.md), after GitHub's token design: a fixed prefix, 32 random
 * base62 characters and 6 base62 characters of the CRC32 of the random part. The prefix and checksum let
 * secret scanners find keys with few false positives and let `keys check` catch a mistyped key without a
 * round trip to the gateway.
 */

const PREFIX = 'tgk_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_CHARS = 32;
const CHECKSUM_CHARS = 6;
/** Largest multiple of 62 that fits in a byte: bytes at or above it are dropped so `% 62` stays unbiased. */
const REJECT_FROM = 248;

/** What secret scanners match (the gitleaks rule and GitHub custom pattern use the same regex). */
export const KEY_PATTERN = /\btgk_[0-9A-Za-z]{38}\b/;
/** The same pattern for finding every key in a text (`replace`, `matchAll`). */
export const KEY_PATTERN_ALL = new RegExp(KEY_PATTERN.source, 'g');
const EXACT = new RegExp(`^${KEY_PATTERN.source.replaceAll('\\b', '')}$`);

const CRC_TABLE = buildCrcTable();

function buildCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/**
 * CRC32 (IEEE, as zlib). zlib.crc32 only exists from Node 20.15 and 22.2; this small table keeps the key
 * format independent of the runtime, and a test compares the two where zlib has it.
 */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Base62 of a 32-bit number, zero-padded to 6 characters (62^6 > 2^32, so it always fits). */
function checksumOf(randomPart: string): string {
  let n = crc32(randomPart);
  let out = '';
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function randomBase62(count: number): string {
  let out = '';
  while (out.length < count) {
    for (const byte of randomBytes(count * 2)) {
      if (byte >= REJECT_FROM) continue;
      out += ALPHABET[byte % 62];
      if (out.length === count) break;
    }
  }
  return out;
}

/** A new key: 32 random base62 characters (about 190.5 bits) plus their checksum. */
export function mintKey(): string {
  const random = randomBase62(RANDOM_CHARS);
  return `${PREFIX}${random}${checksumOf(random)}`;
}

/** True when `s` has the prefix, length and alphabet of a key, whatever its checksum. */
export function hasKeyShape(s: string): boolean {
  return EXACT.test(s);
}

/** True when `s` has the prefix, length and alphabet of a key and its checksum matches. */
export function checkKeyFormat(s: string): boolean {
  if (!hasKeyShape(s)) return false;
  const random = s.slice(PREFIX.length, PREFIX.length + RANDOM_CHARS);
  return s.slice(PREFIX.length + RANDOM_CHARS) === checksumOf(random);
}

/** `sha256:<64 hex>` of the whole key string: the only form keys.yaml holds. */
export function hashKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** At most `tgk_Ab…wxyz`: enough to tell keys apart in logs, too little to use. */
export function maskKey(key: string): string {
  if (key.length < 14) return '…';
  return `${key.slice(0, 6)}…${key.slice(-4)}`;
}
