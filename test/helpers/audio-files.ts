/**
 * Audio files made in code for the tests, so no binary fixture or encoder is needed: a PCM WAV
 * of a given length, MPEG-1 Layer III frames (silent, 128 kbit/s, 44.1 kHz, 1152 samples each)
 * and a FLAC stream whose STREAMINFO states its length. Generators, not parsers: the gateway reads
 * them with music-metadata like any upload.
 */

/** A 16-bit mono PCM WAV of `seconds` at `rate` Hz, filled with a quiet pattern. */
export function wavFile(seconds: number, rate = 16_000): Buffer {
  const samples = Math.round(seconds * rate);
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write('WAVE', 8, 'latin1');
  b.write('fmt ', 12, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) b.writeInt16LE(((i * 37) % 200) - 100, 44 + i * 2);
  return b;
}

/** `frames` MPEG-1 Layer III frames: 1152 / 44100 s each. */
export function mp3File(frames: number): Buffer {
  const frame = Buffer.alloc(417);
  frame.writeUInt32BE(0xfffb9064, 0);
  return Buffer.concat(Array.from({ length: frames }, () => frame));
}

export const mp3Seconds = (frames: number) => (frames * 1152) / 44_100;

/** A FLAC stream header (fLaC + STREAMINFO) stating `seconds` at 44.1 kHz, 16-bit mono. */
export function flacFile(seconds: number): Buffer {
  const rate = 44_100;
  const total = BigInt(Math.round(seconds * rate));
  const info = Buffer.alloc(34);
  info.writeUInt16BE(4096, 0);
  info.writeUInt16BE(4096, 2);
  // sample rate (20 bits) | channels-1 (3) | bits-1 (5) | total samples (36)
  const packed = (BigInt(rate) << 44n) | (0n << 41n) | (15n << 36n) | total;
  info.writeBigUInt64BE(packed, 10);
  const header = Buffer.from([0x80, 0, 0, 34]); // last metadata block, STREAMINFO, length 34
  return Buffer.concat([Buffer.from('fLaC', 'latin1'), header, info]);
}
