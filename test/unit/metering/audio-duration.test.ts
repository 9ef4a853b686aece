import { describe, expect, it } from 'vitest';
import { readAudioDuration } from '../../../src/metering/audio-duration.js';
import { flacFile, mp3File, mp3Seconds, wavFile } from '../../helpers/audio-files.js';

const split = (b: Buffer, at = 7) => [b.subarray(0, at), b.subarray(at)];

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
  });
});
