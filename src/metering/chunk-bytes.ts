import { AbstractTokenizer, EndOfStreamError, type IReadChunkOptions } from 'strtok3';

/**
 * A file read where its bytes already are: the chunks an upload arrived in (views into the
 * request's own buffers, proxy/multipart.ts), never concatenated into one buffer. Reading a range
 * copies only that range, so a duration read costs the few headers it looks at, not a second copy
 * of the file (docs/api.md#images-and-audio: a 10 MB upload is held once).
 */
export class ChunkBytes {
  readonly length: number;
  private readonly chunks: readonly Buffer[];
  /** Where each chunk starts in the file. */
  private readonly starts: number[];
  /** The chunk the last read was in: reads walk forward, so the next one is usually there too. */
  private last = 0;

  constructor(chunks: readonly Buffer[]) {
    this.chunks = chunks.filter((c) => c.length > 0);
    this.starts = [];
    let at = 0;
    for (const c of this.chunks) {
      this.starts.push(at);
      at += c.length;
    }
    this.length = at;
  }

  /** The index of the chunk holding byte `at` (0 <= at < length). */
  private chunkOf(at: number): number {
    const start = this.starts[this.last] as number;
    if (at >= start && at < start + (this.chunks[this.last] as Buffer).length) return this.last;
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= at) lo = mid;
      else hi = mid - 1;
    }
    this.last = lo;
    return lo;
  }

  /** The byte at `at`, or undefined past the end. */
  byte(at: number): number | undefined {
    if (at < 0 || at >= this.length) return undefined;
    const i = this.chunkOf(at);
    return (this.chunks[i] as Buffer)[at - (this.starts[i] as number)];
  }

  /** Copies bytes from `at` into `target` (up to its length or the end); returns how many. */
  copyTo(target: Uint8Array, at: number, length = target.length): number {
    const end = Math.min(this.length, at + Math.min(length, target.length));
    let written = 0;
    while (at + written < end) {
      const pos = at + written;
      const i = this.chunkOf(pos);
      const chunk = this.chunks[i] as Buffer;
      const from = pos - (this.starts[i] as number);
      const n = Math.min(chunk.length - from, end - pos);
      target.set(chunk.subarray(from, from + n), written);
      written += n;
    }
    return written;
  }

  /** Where `needle` first occurs at or after `from`, across chunk edges; -1 if nowhere. */
  indexOf(needle: Uint8Array, from = 0): number {
    const first = needle[0];
    if (first === undefined) return from;
    for (
      let i = from === 0 ? 0 : this.chunkOf(Math.min(from, this.length - 1));
      i < this.chunks.length;
      i++
    ) {
      const chunk = this.chunks[i] as Buffer;
      const start = this.starts[i] as number;
      let at = chunk.indexOf(first, Math.max(0, from - start));
      while (at >= 0) {
        if (this.matches(needle, start + at)) return start + at;
        at = chunk.indexOf(first, at + 1);
      }
    }
    return -1;
  }

  private matches(needle: Uint8Array, at: number): boolean {
    for (let k = 0; k < needle.length; k++) if (this.byte(at + k) !== needle[k]) return false;
    return true;
  }
}

export interface ChunkTokenizerOptions {
  /** The file's size as the parser is told it; unset, the parser reads as from a stream of unknown length. */
  size?: number;
  mimeType?: string;
  /**
   * Whether the parser may seek (read a file's end first, trust its size). Off by default: the
   * parsers then read as they do a stream, which for an MP3 without a Xing frame means counting
   * every frame rather than estimating from its first frames and the size (a bound must not be
   * short), while what they skip (a WAV's samples, an MP4's media data) is still never copied.
   */
  randomAccess?: boolean;
}

/**
 * music-metadata's view of a ChunkBytes, as strtok3's own BufferTokenizer is of one buffer: reads
 * copy only the bytes asked for, and skipping moves the position without reading.
 */
export class ChunkTokenizer extends AbstractTokenizer {
  readonly fileInfo: { size?: number; mimeType?: string };
  private readonly bytes: ChunkBytes;
  /** Where the file ends for the parser: its size, or the bytes there are. */
  private readonly end: number;
  private readonly randomAccess: boolean;

  constructor(bytes: ChunkBytes, options: ChunkTokenizerOptions = {}) {
    super();
    this.bytes = bytes;
    this.end = Math.min(options.size ?? bytes.length, bytes.length);
    this.randomAccess = options.randomAccess === true;
    this.fileInfo = {
      ...(options.size === undefined ? {} : { size: this.end }),
      ...(options.mimeType ? { mimeType: options.mimeType } : {}),
    };
  }

  async readBuffer(target: Uint8Array, options?: IReadChunkOptions): Promise<number> {
    const norm = this.normalizeOptions(target, options);
    const read = await this.peekBuffer(target, norm);
    this.position = norm.position + read;
    return read;
  }

  async peekBuffer(target: Uint8Array, options?: IReadChunkOptions): Promise<number> {
    const norm = this.normalizeOptions(target, options);
    const n = Math.max(0, Math.min(this.end - norm.position, norm.length));
    if (!norm.mayBeLess && n < norm.length) throw new EndOfStreamError();
    return n === 0 ? 0 : this.bytes.copyTo(target, norm.position, n);
  }

  supportsRandomAccess(): boolean {
    return this.randomAccess;
  }

  setPosition(position: number): void {
    this.validateLength(position, 'position');
    this.position = position;
  }
}
