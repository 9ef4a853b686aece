import { PassThrough, Readable } from 'node:stream';
import { parseStream } from 'music-metadata';
import { readLiveWebm } from './webm-last-block.js';

/**
 * The duration of an uploaded audio file, read from the file itself with music-metadata (WAV,
 * MP3, M4A/MP4, OGG/Opus, WebM, FLAC and the other containers it knows): a transcription's
 * reservation is priced from it, so it must not be what the client claims. The bytes are read
 * where they already are (the chunks as they arrived), never copied into one buffer.
 *
 * Resolves undefined when the file is not audio a parser recognises or carries no duration.
 */
export async function readAudioDuration(
  chunks: readonly Buffer[],
  size: number,
  mimeType?: string,
): Promise<number | undefined> {
  // The content decides the format first; the declared type only when the content does not say.
  const attempts = mimeType && /^audio\/|^video\//.test(mimeType) ? [undefined, mimeType] : [undefined];
  for (const mime of attempts) {
    try {
      const meta = await parseStream(readableOf(chunks), mime ? { size, mimeType: mime } : { size }, {
        duration: true,
        skipCovers: true,
      });
      const seconds = meta.format.duration;
      if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0) return seconds;
    } catch {
      // Not a format this attempt recognises: try the next, else no duration.
    }
  }
  return undefined;
}

/** A byte stream over the chunks as they are (Readable.from would make an object stream). */
function readableOf(chunks: readonly Buffer[]): Readable {
  let i = 0;
  return new Readable({
    read() {
      this.push(i < chunks.length ? chunks[i++] : null);
    },
  });
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

/** The EBML magic a WebM/Matroska file starts with. */
const EBML_MAGIC = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);

/**
 * The file as it streams in, passed on to music-metadata; a WebM/Matroska file's chunks are kept
 * as well (references to the chunks the upload already holds until it is reserved): a
 * MediaRecorder recording says how long it is only in its last block (webm-last-block.ts).
 */
function teeMatroska(stream: Readable): {
  parsed: PassThrough;
  kept: () => Promise<Buffer | undefined>;
  drop: () => void;
} {
  const parsed = new PassThrough();
  const chunks: Buffer[] = [];
  let matroska: boolean | undefined;
  let seen = 0;
  const ended = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
  });
  stream.on('data', (chunk: Buffer) => {
    if (matroska !== false) chunks.push(chunk);
    seen += chunk.length;
    if (matroska === undefined && seen >= EBML_MAGIC.length) {
      matroska = Buffer.concat(chunks).subarray(0, EBML_MAGIC.length).equals(EBML_MAGIC);
      if (!matroska) chunks.length = 0;
    }
    parsed.write(chunk);
  });
  stream.on('end', () => parsed.end());
  const kept = async () => {
    await ended;
    return matroska ? Buffer.concat(chunks) : undefined;
  };
  const drop = () => {
    matroska = false;
    chunks.length = 0;
  };
  return { parsed, kept, drop };
}

/** The duration of audio streamed in as it arrives (an upload's file part), or undefined. */
export async function readStreamDuration(stream: Readable): Promise<HeaderDuration | undefined> {
  const { parsed, kept, drop } = teeMatroska(stream);
  try {
    let format = await parseStream(parsed, {}, { duration: true, skipCovers: true }).then(
      (meta) => meta.format,
      () => undefined,
    );
    if (typeof format?.duration !== 'number') {
      // A live WebM (MediaRecorder): no Duration, and Clusters of unknown size music-metadata refuses.
      parsed.resume();
      const file = await kept();
      format = file ? await readLiveWebm(file) : format;
    }
    drop();
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
  } finally {
    // Whatever the parser left unread is dropped, not buffered.
    stream.resume();
    parsed.resume();
  }
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
