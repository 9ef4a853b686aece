/**
 * Where a JSON object's top-level members lie in the bytes a client sent, without decoding them:
 * the fingerprints hash those bytes as they are (fingerprint.ts) instead of serializing the
 * parsed body again. Strings, where nearly all of a prompt's bytes are, are skipped with
 * Buffer#indexOf (native), so a 100 kB body costs a few dozen steps of JavaScript. Only bytes
 * that already passed JSON.parse come here; anything unexpected gives undefined, never a throw.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** A member's key and its value's bytes, `raw.subarray(start, end)`. */
export interface Member {
  key: string;
  start: number;
  end: number;
}

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(raw: Buffer, at: number): number {
  let i = at;
  while (isSpace(raw[i])) i++;
  return i;
}

/** The index after the closing quote of the string opening at `at`, or -1. */
function stringEnd(raw: Buffer, at: number): number {
  let from = at + 1;
  for (;;) {
    const quote = raw.indexOf(QUOTE, from);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (raw[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** The index after the value starting at `at` (no leading space), or -1. */
function valueEnd(raw: Buffer, at: number): number {
  const first = raw[at];
  if (first === QUOTE) return stringEnd(raw, at);
  let i = at;
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    while (i < raw.length) {
      const c = raw[i];
      if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isSpace(c)) break;
      i++;
    }
    return i > at ? i : -1;
  }
  let depth = 0;
  while (i < raw.length) {
    const c = raw[i];
    if (c === QUOTE) {
      i = stringEnd(raw, i);
      if (i < 0) return -1;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return -1;
}

function readKey(raw: Buffer, at: number, end: number): string {
  // A key written with escapes ("\u0075ser") is the key it decodes to.
  for (let i = at + 1; i < end - 1; i++) {
    if (raw[i] === BACKSLASH) return JSON.parse(raw.toString('utf8', at, end)) as string;
  }
  return raw.toString('utf8', at + 1, end - 1);
}

/** The top-level members of the JSON object in `raw`, in the order they were sent. */
export function topLevelMembers(raw: Buffer): Member[] | undefined {
  let i = skipSpace(raw, 0);
  if (raw[i] !== OPEN_OBJECT) return undefined;
  i = skipSpace(raw, i + 1);
  const members: Member[] = [];
  if (raw[i] === CLOSE_OBJECT) return members;
  for (;;) {
    if (raw[i] !== QUOTE) return undefined;
    const keyEnd = stringEnd(raw, i);
    if (keyEnd < 0) return undefined;
    const key = readKey(raw, i, keyEnd);
    i = skipSpace(raw, keyEnd);
    if (raw[i] !== COLON) return undefined;
    const start = skipSpace(raw, i + 1);
    const end = valueEnd(raw, start);
    if (end < 0) return undefined;
    members.push({ key, start, end });
    i = skipSpace(raw, end);
    if (raw[i] === COMMA) i = skipSpace(raw, i + 1);
    else if (raw[i] === CLOSE_OBJECT) return members;
    else return undefined;
  }
}

/** The end of the first `count` elements of the array at `raw[start]`, or -1. */
export function leadingElementsEnd(raw: Buffer, start: number, count: number): number {
  if (raw[start] !== OPEN_ARRAY) return -1;
  let i = skipSpace(raw, start + 1);
  let end = i;
  for (let n = 0; n < count; n++) {
    end = valueEnd(raw, i);
    if (end < 0) return -1;
    i = skipSpace(raw, end);
    if (raw[i] === COMMA) i = skipSpace(raw, i + 1);
  }
  return end;
}
