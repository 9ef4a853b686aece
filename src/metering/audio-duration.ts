import { type IFormat, parseFromTokenizer } from 'music-metadata';
import { ChunkBytes, ChunkTokenizer, type ChunkTokenizerOptions } from './chunk-bytes.js';
import { readLiveWebm } from './webm-last-block.js';

/**
 * The duration of an uploaded audio file, read from the file itself with music-metadata (WAV,
 * MP3, M4A/MP4, OGG/Opus, WebM, FLAC and the other containers it knows): a transcription's
 * reservation is priced from it, so it must not be what the client claims. The bytes are read
 * where they already are (the chunks as they arrived, chunk-bytes.ts): the parser copies only
 * the headers it reads and skips the rest, never a second copy of the file.
 *
 * Resolves undefined when the file is not audio a parser recognises or carries no duration.
 */
export async function readAudioDuration(
  chunks: readonly Buffer[],
  size: number,
  mimeType?: string,
): Promise<number | undefined> {
  const bytes = new ChunkBytes(chunks);
  // The content decides the format first; the declared type only when the content does not say.
  const attempts = mimeType && /^audio\/|^video\//.test(mimeType) ? [undefined, mimeType] : [undefined];
  for (const mime of attempts) {
    const seconds = (await readFormat(bytes, { size, ...(mime ? { mimeType: mime } : {}) }))?.duration;
    if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0) return seconds;
  }
  return undefined;
}

/** music-metadata's reading of the format, or undefined when it recognises none. */
function readFormat(bytes: ChunkBytes, options: ChunkTokenizerOptions = {}): Promise<IFormat | undefined> {
  return parseFromTokenizer(new ChunkTokenizer(bytes, options), { duration: true, skipCovers: true }).then(
    (meta) => meta.format,
    () => undefined,
  );
}

/** A duration read from a file's header, and the most bits a second its codec can carry. */
export interface HeaderDuration {
  seconds: number;
  bitsPerSecondMax: number;
}

/**
 * The fewest bits a second of audio an upload can hold (Opus's lowest bitrate, 6 kbit/s): its
 * bytes can hold at most bytes x 8 / this many seconds, whatever its header says.
 */
export const AUDIO_BITS_PER_SECOND_MIN = 6_000;
/** The most a lossy codec carries (MP3 320, Opus 510, AAC about 512 kbit/s), with room. */
const LOSSY_BITS_PER_SECOND_MAX = 640_000;
/** PCM or lossless: sample rate x channels x bits, each capped at the most a decoder takes. */
const PCM_MAX = { rate: 384_000, channels: 8, bits: 32 };
/** Container, tags and an embedded cover: bytes of a file that are not audio. */
const NOT_AUDIO_BYTES = 256 * 1024;

const capped = (v: number | undefined, max: number) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.min(v, max) : max;

/**
 * The duration of an upload's audio file, given as the chunks it arrived in (views into the
 * request's own buffers, proxy/multipart.ts), or undefined.
 */
export async function readUploadDuration(chunks: readonly Buffer[]): Promise<HeaderDuration | undefined> {
  const bytes = new ChunkBytes(chunks);
  // Read as a stream of unknown length is (chunk-bytes.ts): nothing estimated from the size.
  let format = await readFormat(bytes);
  // A live WebM (MediaRecorder): no Duration, and Clusters of unknown size music-metadata refuses.
  if (typeof format?.duration !== 'number') format = (await readLiveWebm(bytes)) ?? format;
  if (!format) return undefined;
  const { duration: seconds, lossless, codec, sampleRate, numberOfChannels, bitsPerSample } = format;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) return undefined;
  const pcm = lossless === true || /pcm|flac|alac|wav/i.test(codec ?? '');
  const bitsPerSecondMax = pcm
    ? capped(sampleRate, PCM_MAX.rate) *
      capped(numberOfChannels, PCM_MAX.channels) *
      capped(bitsPerSample, PCM_MAX.bits)
    : LOSSY_BITS_PER_SECOND_MAX;
  return { seconds, bitsPerSecondMax };
}

/**
 * The seconds a transcription is bounded by: the header's duration (MP4 mvhd, WebM Duration, the
 * Ogg last granule, a WAV data size, an MP3 Xing frame count are the client's to write), unless
 * the file's bytes are more than that many seconds of its codec can fill; then the header is not
 * believed and the most audio the bytes can hold is (bytes at 6 kbit/s).
 */
export function plausibleSeconds(read: HeaderDuration, fileBytes: number): number {
  const audioBits = Math.max(0, fileBytes - NOT_AUDIO_BYTES) * 8;
  if (audioBits <= read.seconds * read.bitsPerSecondMax) return read.seconds;
  return Math.max(read.seconds, Math.ceil((fileBytes * 8) / AUDIO_BITS_PER_SECOND_MIN));
}
