import { Readable } from 'node:stream';
import { parseStream } from 'music-metadata';

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

/** The duration of audio streamed in as it arrives (an upload's file part), or undefined. */
export async function readStreamDuration(stream: Readable): Promise<number | undefined> {
  try {
    const meta = await parseStream(stream, {}, { duration: true, skipCovers: true });
    const seconds = meta.format.duration;
    return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
  } catch {
    return undefined;
  } finally {
    // Whatever the parser left unread is dropped, not buffered.
    stream.resume();
  }
}
