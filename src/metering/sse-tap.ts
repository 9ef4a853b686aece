import { StringDecoder } from 'node:string_decoder';
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

/**
 * Taps a server-sent-events body. Without rewriting, each chunk goes to the client as is and a
 * copy is parsed line by line. When the usage chunk must be hidden, complete lines go out at once
 * and only a trailing partial line waits for the rest of it.
 */
export function createSseTap(reader: UsageReader, options: SseTapOptions): ResponseTap {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  let dropBlank = false;

  /** Parses one line; returns whether it must be kept from the client. */
  const hide = (line: string): boolean => {
    const bare = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (dropBlank && bare === '') {
      dropBlank = false;
      return true;
    }
    dropBlank = false;
    if (!bare.startsWith('data:')) return false;
    const payload = bare.slice(bare[5] === ' ' ? 6 : 5);
    if (payload === '[DONE]' || payload === '') return false;
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
      const held = partial !== '';
      const lines = (partial + decoder.write(chunk)).split('\n');
      partial = lines.pop() ?? '';
      if (!options.hideUsageChunk) {
        for (const line of lines) hide(line);
        return chunk;
      }
      const hidden = lines.map(hide);
      // The common case — whole events, nothing to hide — forwards the upstream's bytes as they came.
      if (!held && partial === '' && !hidden.includes(true)) return chunk;
      let out = '';
      lines.forEach((line, i) => {
        if (!hidden[i]) out += `${line}\n`;
      });
      return out === '' ? EMPTY : Buffer.from(out, 'utf8');
    },
    flush() {
      const rest = partial + decoder.end();
      partial = '';
      if (rest === '') return EMPTY;
      const hidden = hide(rest);
      // Without rewriting, the partial line already reached the client with its chunk.
      if (!options.hideUsageChunk || hidden) return EMPTY;
      return Buffer.from(rest, 'utf8');
    },
  };
}
