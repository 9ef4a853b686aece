import { EMPTY, type ResponseTap } from './tap.js';
import type { UsageReader } from './usage-reader.js';

export interface SseTapOptions {
  /**
   * Drop OpenAI's usage-only chunk (`choices: []` with `usage`): the gateway asked for it with
   * `stream_options.include_usage`, the client did not, and a strict client may choke on a chunk
   * without choices.
   */
  hideUsageChunk: boolean;
}

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

  return {
    transform(chunk) {
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
    },
    flush() {
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
