import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readAudioDuration, readUploadDuration } from '../../../src/metering/audio-duration.js';
import { ChunkBytes } from '../../../src/metering/chunk-bytes.js';
import { readLastBlockSeconds } from '../../../src/metering/webm-last-block.js';
import { flacFile, mp3File, mp3Seconds, wavFile } from '../../helpers/audio-files.js';

const split = (b: Buffer, at = 7) => [b.subarray(0, at), b.subarray(at)];
const fixture = (name: string) => readFileSync(new URL(`../../fixtures/audio/${name}`, import.meta.url));

/** The file as an upload's tap receives it: in chunks, the first shorter than the EBML magic. */
const chunksOf = (b: Buffer) => [b.subarray(0, 2), b.subarray(2, 1000), b.subarray(1000)];
const bytesOf = (b: Buffer) => new ChunkBytes(chunksOf(b));

describe('the duration of an uploaded audio file, read from the file itself', () => {
  it('reads a WAV file in chunks as they arrived', async () => {
    const wav = wavFile(3.25);
    expect(await readAudioDuration(split(wav), wav.length)).toBeCloseTo(3.25, 6);
  });

  it('reads an MP3 file by its frames', async () => {
    const mp3 = mp3File(150);
    expect(await readAudioDuration(split(mp3, 1000), mp3.length)).toBeCloseTo(mp3Seconds(150), 6);
  });

  it('reads a FLAC file by its stream info', async () => {
    const flac = flacFile(7.25);
    expect(await readAudioDuration(split(flac), flac.length)).toBeCloseTo(7.25, 6);
  });

  it('finds no duration in a file that is not audio, whatever type the client declared', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n');
    expect(await readAudioDuration(split(pdf), pdf.length, 'audio/wav')).toBeUndefined();
    expect(await readAudioDuration([], 0, 'audio/mpeg')).toBeUndefined();
    expect(await readUploadDuration(chunksOf(pdf))).toBeUndefined();
  });
});

// The fixtures are 2.5 s of a sine made by ffmpeg (test/fixtures/audio/README.md); a container's
// own padding (AAC priming, Opus pre-skip) makes its stated length a few tens of ms longer.
describe('the duration of each format a browser or a voice tool uploads, as an upload holds it', () => {
  for (const name of ['speech.m4a', 'speech.mp4', 'speech-fragmented.mp4', 'speech.ogg', 'speech.webm']) {
    it(`reads ${name} from its header within 0.1 s`, async () => {
      const read = await readUploadDuration(chunksOf(fixture(name)));
      expect(read?.seconds).toBeGreaterThanOrEqual(2.5);
      expect(read?.seconds).toBeLessThan(2.6);
    });
  }

  for (const name of ['speech-mediarecorder.webm', 'speech-mediarecorder-unknown-sizes.webm']) {
    it(`reads a MediaRecorder-style WebM with no Duration (${name}) from its last block, never short`, async () => {
      const file = fixture(name);
      expect(file.includes(Buffer.from([0x44, 0x89]))).toBe(false); // no Duration element at all
      const read = await readUploadDuration(chunksOf(file));
      // The last block starts at 2.48 s or later and plays at most 120 ms (one Opus packet).
      expect(read?.seconds).toBeGreaterThanOrEqual(2.5);
      expect(read?.seconds).toBeLessThanOrEqual(2.5 + 0.12 + 0.02);
    });
  }

  it('finds the last block of a WebM whose Clusters have an unknown size, as Chrome writes them', () => {
    const known = readLastBlockSeconds(bytesOf(fixture('speech-mediarecorder.webm')));
    expect(known).toBeGreaterThan(2.4);
    expect(readLastBlockSeconds(bytesOf(fixture('speech-mediarecorder-unknown-sizes.webm')))).toBe(known);
  });

  it('finds no last block in a file that is not Matroska, or one cut before its first Cluster', () => {
    expect(readLastBlockSeconds(bytesOf(fixture('speech.ogg')))).toBeUndefined();
    expect(
      readLastBlockSeconds(bytesOf(fixture('speech-mediarecorder.webm').subarray(0, 400))),
    ).toBeUndefined();
  });
});
