import { type LineSkeleton, lineSkeleton } from './sse-long-line.js';
import { EMPTY, type ResponseTap } from './tap.js';
import type { UsageReader } from './usage-reader.js';

export interface SseTapOptions {
  /**
   * Drop OpenAI's usage-only chunk (`choices: []` with `usage`): the gateway asked for it with
   * `stream_options.include_usage`, the client did not, and a strict client may choke on a chunk
   * without choices.
   */
  hideUsageChunk: boolean;
  /** Told the size of each line too long to parse, so its text can still be counted in an estimate. */
  onUnparsed?: (bytes: number) => void;
}

/**
 * The longest SSE line the tap parses. A real event is a few hundred bytes (a big tool call a
 * few hundred kB); one 60 MB line held the event loop for 3.3 s while it was re-joined chunk by
 * chunk and parsed. A longer line goes to the client as it comes, not parsed whole: only its
 * shape is read as it passes (its long strings emptied, sse-long-line.ts), so the usage it
 * carries (a streamed image's, after megabytes of base64) is still read; its bytes still count
 * as generated text for an estimate.
 */
export const MAX_PARSED_LINE_BYTES = 1024 * 1024;

function isUsageOnlyChunk(data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  return (
    Array.isArray(d.choices) && d.choices.length === 0 && typeof d.usage === 'object' && d.usage !== null
  );
}

const LF = 0x0a;
const CR = 0x0d;
const DATA = Buffer.from('data:');

/**
 * Taps a server-sent-events body. It works on bytes: lines are found by their `\n` (one byte in
 * UTF-8, never inside a multi-byte character), only `data:` payloads are decoded, to be parsed,
 * and what goes to the client is the upstream's own bytes. Without rewriting, each chunk goes on
 * as it came. When the usage chunk must be hidden, complete lines go out at once (the chunk
 * itself when nothing in it is hidden) and only a trailing partial line waits for the rest of it.
 */
export function createSseTap(reader: UsageReader, options: SseTapOptions): ResponseTap {
  let partial: Buffer = EMPTY;
  let dropBlank = false;

  /** Parses the line `buf[start, end)` (without its `\n`); returns whether to keep it from the client. */
  const hide = (buf: Buffer, start: number, end: number): boolean => {
    const stop = end > start && buf[end - 1] === CR ? end - 1 : end;
    if (dropBlank && stop === start) {
      dropBlank = false;
      return true;
    }
    dropBlank = false;
    if (stop - start < DATA.length || buf.compare(DATA, 0, DATA.length, start, start + DATA.length) !== 0)
      return false;
    const from = start + DATA.length + (buf[start + DATA.length] === 0x20 ? 1 : 0);
    if (from >= stop) return false;
    const payload = buf.toString('utf8', from, stop);
    if (payload === '[DONE]') return false;
    let data: unknown;
    try {
      data = JSON.parse(payload);
    } catch {
      return false;
    }
    reader.readEvent(data);
    if (options.hideUsageChunk && isUsageOnlyChunk(data)) {
      dropBlank = true;
      return true;
    }
    return false;
  };

  let skipping = false;
  /** The shape of the over-long line being skipped, read at its end. */
  let skeleton: LineSkeleton | undefined;
  const unparsed = options.onUnparsed ?? (() => {});
  const readSkeleton = () => {
    const data = skeleton?.end();
    skeleton = undefined;
    if (data !== undefined) reader.readEvent(data);
  };

  /** The bytes to send on for `chunk` outside an over-long line. */
  const lines = (chunk: Buffer): Buffer => {
    const held = partial.length > 0;
    const buf = held ? Buffer.concat([partial, chunk]) : chunk;
    const last = buf.lastIndexOf(LF);
    partial = last < 0 ? buf : buf.subarray(last + 1);
    if (last < 0) return options.hideUsageChunk ? EMPTY : chunk;
    // Lines of buf[0, last]; a kept line goes out with its `\n`.
    let kept: Buffer[] | undefined;
    let keptFrom = 0;
    for (let start = 0; start <= last; ) {
      const end = buf.indexOf(LF, start);
      if (hide(buf, start, end) && options.hideUsageChunk) {
        kept ??= [];
        if (start > keptFrom) kept.push(buf.subarray(keptFrom, start));
        keptFrom = end + 1;
      }
      start = end + 1;
    }
    if (!options.hideUsageChunk) return chunk;
    // The common case — whole events, nothing hidden — forwards the upstream's own buffer.
    if (!kept) return !held && partial.length === 0 ? chunk : buf.subarray(0, last + 1);
    if (last + 1 > keptFrom) kept.push(buf.subarray(keptFrom, last + 1));
    return kept.length === 0 ? EMPTY : kept.length === 1 ? (kept[0] as Buffer) : Buffer.concat(kept);
  };

  return {
    transform(input) {
      let chunk = input;
      let head: Buffer = EMPTY;
      if (skipping) {
        // Inside an over-long line: pass it on untouched until its end, without looking into it.
        const lf = chunk.indexOf(LF);
        if (lf < 0) {
          unparsed(chunk.length);
          skeleton?.feed(chunk);
          return chunk;
        }
        unparsed(lf);
        skeleton?.feed(chunk.subarray(0, lf));
        readSkeleton();
        skipping = false;
        dropBlank = false;
        head = chunk.subarray(0, lf + 1);
        chunk = chunk.subarray(lf + 1);
        if (chunk.length === 0) return head;
      }
      let out = lines(chunk);
      if (partial.length > MAX_PARSED_LINE_BYTES) {
        unparsed(partial.length);
        skipping = true;
        skeleton = lineSkeleton(partial);
        // Held back only when rewriting; it is no usage chunk, so it goes on now.
        if (options.hideUsageChunk) out = out.length === 0 ? partial : Buffer.concat([out, partial]);
        partial = EMPTY;
      }
      return head.length === 0 ? out : out.length === 0 ? head : Buffer.concat([head, out]);
    },
    flush() {
      // A stream that ended inside an over-long line: what of it passed is still read.
      if (skipping) readSkeleton();
      const rest = partial;
      partial = EMPTY;
      if (rest.length === 0) return EMPTY;
      const hidden = hide(rest, 0, rest.length);
      // Without rewriting, the partial line already reached the client with its chunk.
      if (!options.hideUsageChunk || hidden) return EMPTY;
      return rest;
    },
  };
}
