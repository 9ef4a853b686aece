/**
 * What the SSE tap still reads of a `data:` line too long to parse whole (sse-tap.ts): its JSON
 * with every string longer than KEPT_STRING_BYTES emptied, built as the line passes, parsed at its
 * end. An image stream's `image_generation.completed` / `image_edit.completed` carries the whole
 * image as megabytes of base64 (`b64_json`) before its `usage` (OpenAI's event: b64_json,
 * created_at, size, quality, background, output_format, usage), so without this the usage of every
 * streamed image was lost and the request charged its whole reservation
 * (docs/api.md#images-and-audio). No copy of the line is kept: the long strings' bytes are only
 * scanned for their closing quote, and what is kept is capped at SKELETON_MAX_BYTES.
 */

/** Strings up to this long are kept (types, sizes, a revised prompt); longer ones become "". */
export const KEPT_STRING_BYTES = 4096;
/** The most the skeleton may hold; past it (a huge array of numbers, say) the line is not read. */
export const SKELETON_MAX_BYTES = 64 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const QUOTE_BYTES = Buffer.from('"');
const DATA = Buffer.from('data:');

/** The JSON shape of one over-long `data:` line, fed as it passes. */
export interface LineSkeleton {
  /** The line's next bytes (no `\n`). */
  feed(bytes: Buffer): void;
  /** The line's JSON with its long strings emptied, or undefined when it cannot be read. */
  end(): unknown;
}

/** Trailing backslashes of buf[from, to). */
function trailingBackslashes(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = to - 1; i >= from && buf[i] === BACKSLASH; i--) n++;
  return n;
}

/**
 * A skeleton of the line that starts with `first` (already over the parse limit), or undefined
 * when it is not a `data:` line.
 */
export function lineSkeleton(first: Buffer): LineSkeleton | undefined {
  if (first.length < DATA.length || first.compare(DATA, 0, DATA.length, 0, DATA.length) !== 0)
    return undefined;
  const out: Buffer[] = [];
  let outBytes = 0;
  let broken = false;
  let inString = false;
  /** The current string's bytes while it is short enough to keep. */
  let str: Buffer[] = [];
  let strBytes = 0;
  /** Backslashes that end the current string's bytes so far (an odd run escapes the next quote). */
  let backslashes = 0;

  const emit = (piece: Buffer) => {
    if (piece.length === 0 || broken) return;
    outBytes += piece.length;
    if (outBytes > SKELETON_MAX_BYTES) {
      broken = true;
      out.length = 0;
      return;
    }
    out.push(Buffer.from(piece));
  };
  const keep = (buf: Buffer, from: number, to: number) => {
    if (to <= from) return;
    strBytes += to - from;
    if (strBytes <= KEPT_STRING_BYTES) str.push(Buffer.from(buf.subarray(from, to)));
    else str = [];
    const run = trailingBackslashes(buf, from, to);
    backslashes = run === to - from ? backslashes + run : run;
  };
  /** The index of the quote closing the current string in buf[from, …), or -1. */
  const closing = (buf: Buffer, from: number): number => {
    for (let q = buf.indexOf(QUOTE, from); q >= 0; q = buf.indexOf(QUOTE, q + 1)) {
      const run = trailingBackslashes(buf, from, q);
      const escapes = run === q - from ? backslashes + run : run;
      if (escapes % 2 === 0) return q;
    }
    return -1;
  };

  const feed = (buf: Buffer) => {
    let i = 0;
    while (i < buf.length && !broken) {
      if (!inString) {
        const q = buf.indexOf(QUOTE, i);
        emit(buf.subarray(i, q < 0 ? buf.length : q));
        if (q < 0) return;
        emit(QUOTE_BYTES);
        inString = true;
        str = [];
        strBytes = 0;
        backslashes = 0;
        i = q + 1;
        continue;
      }
      const q = closing(buf, i);
      keep(buf, i, q < 0 ? buf.length : q);
      if (q < 0) return;
      if (strBytes <= KEPT_STRING_BYTES) for (const piece of str) emit(piece);
      emit(QUOTE_BYTES);
      inString = false;
      i = q + 1;
    }
  };

  const from = DATA.length + (first[DATA.length] === 0x20 ? 1 : 0);
  feed(first.subarray(from));
  return {
    feed,
    end() {
      if (broken || inString || out.length === 0) return undefined;
      try {
        return JSON.parse(Buffer.concat(out).toString('utf8'));
      } catch {
        return undefined;
      }
    },
  };
}
