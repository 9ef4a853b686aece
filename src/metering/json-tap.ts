import { EMPTY, type ResponseTap } from './tap.js';
import type { UsageReader } from './usage-reader.js';

/** Bodies up to this size are kept whole and parsed at the end (chat answers are a few kB). */
const WHOLE_LIMIT = 16 * 1024 * 1024;
/** Beyond it (huge embedding batches) only the tail is kept: providers put `usage` last. */
const TAIL_BYTES = 256 * 1024;

/**
 * Taps a JSON response: passes each chunk through untouched and, at the end, reads the usage out
 * of a copy. Error bodies go through the same tap, so a 4xx/5xx that reports usage is still charged.
 */
export function createJsonTap(reader: UsageReader): ResponseTap {
  let chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  return {
    transform(chunk) {
      chunks.push(chunk);
      size += chunk.length;
      if (size > WHOLE_LIMIT + TAIL_BYTES) {
        const all = Buffer.concat(chunks);
        chunks = [all.subarray(all.length - TAIL_BYTES)];
        size = TAIL_BYTES;
        truncated = true;
      }
      return chunk;
    },
    flush() {
      const text = Buffer.concat(chunks).toString('utf8');
      chunks = [];
      if (!truncated) {
        try {
          reader.readJson(JSON.parse(text));
        } catch {
          // Not JSON: a transcription's text, srt or vtt (its characters estimate its tokens), or
          // an HTML error page from a proxy in front of the upstream (no usage).
          reader.readText?.(text);
        }
        return EMPTY;
      }
      const usage = lastUsageObject(text);
      if (usage !== undefined) reader.readJson({ usage });
      return EMPTY;
    },
  };
}

/** The value of the last `"usage": {...}` in `text`, found by brace matching (strings respected). */
export function lastUsageObject(text: string): unknown {
  const at = text.lastIndexOf('"usage"');
  if (at < 0) return undefined;
  const open = text.indexOf('{', at);
  if (open < 0) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) {
        try {
          return JSON.parse(text.slice(open, i + 1));
        } catch {
          return undefined;
        }
      }
    }
  }
  return undefined;
}
