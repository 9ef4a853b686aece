import { afterEach, describe, expect, it, vi } from 'vitest';
import { readUploadDuration } from '../../../src/metering/audio-duration.js';
import { ChunkBytes, ChunkTokenizer } from '../../../src/metering/chunk-bytes.js';
import { mp3Seconds, wavFile } from '../../helpers/audio-files.js';

/** An upload as the gateway holds it: the chunks a socket read, 64 kB each. */
const chunked = (b: Buffer, size = 64 * 1024) => {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; at += size) out.push(b.subarray(at, at + size));
  return out;
};

afterEach(() => vi.restoreAllMocks());

describe('a file read where an upload holds it, across its chunks', () => {
  const file = Buffer.from('0123456789abcdefghij');
  const bytes = new ChunkBytes([
    file.subarray(0, 3),
    Buffer.alloc(0),
    file.subarray(3, 11),
    file.subarray(11),
  ]);

  it('reads bytes and ranges that straddle chunk edges', () => {
    expect(bytes.length).toBe(20);
    expect([bytes.byte(0), bytes.byte(3), bytes.byte(19), bytes.byte(20)]).toEqual([
      0x30,
      0x33,
      0x6a,
      undefined,
    ]);
    const out = Buffer.alloc(6);
    expect(bytes.copyTo(out, 1)).toBe(6);
    expect(out.toString()).toBe('123456');
    expect(bytes.copyTo(out, 17)).toBe(3);
    expect(out.subarray(0, 3).toString()).toBe('hij');
  });

  it('finds a needle that spans chunks, and none that is absent', () => {
    expect(bytes.indexOf(Buffer.from('2345'))).toBe(2);
    expect(bytes.indexOf(Buffer.from('abc'))).toBe(10);
    expect(bytes.indexOf(Buffer.from('abc'), 11)).toBe(-1);
    expect(bytes.indexOf(Buffer.from('jk'))).toBe(-1);
  });

  it('gives a parser what it asks for and ends the file at the size it was told', async () => {
    const t = new ChunkTokenizer(bytes, { size: 12, randomAccess: true });
    const out = new Uint8Array(4);
    await t.readBuffer(out, { position: 8 });
    expect(Buffer.from(out).toString()).toBe('89ab');
    await expect(t.readBuffer(out)).rejects.toThrow(/end-of-stream/i);
    expect(await t.peekBuffer(out, { position: 10, mayBeLess: true })).toBe(2);
  });
});

describe('the duration read of a held upload', () => {
  it('copies the headers it reads, not the 10 MB file', async () => {
    const copy = vi.spyOn(ChunkBytes.prototype, 'copyTo');
    const wav = wavFile((10 * 1024 * 1024) / 32_000);
    const read = await readUploadDuration(chunked(wav));
    expect(read?.seconds).toBeCloseTo(327.68, 6);
    const copied = copy.mock.results.reduce((n, r) => n + (r.value as number), 0);
    expect(copied).toBeLessThan(16 * 1024);
  });

  it('counts every frame of an MP3 without a Xing frame, never estimating from its first frames and size', async () => {
    // Four 320 kbit/s frames, then a thousand at 32 kbit/s: from its first frames and its size
    // the file would pass for a 2.7 s constant-bitrate file; it plays 26.2 s.
    const frame = (header: number, length: number) => {
      const f = Buffer.alloc(length);
      f.writeUInt32BE(header, 0);
      return f;
    };
    const loud = frame(0xfffbe064, 1044);
    const quiet = frame(0xfffb1064, 104);
    const mp3 = Buffer.concat([loud, loud, loud, loud, ...Array.from({ length: 1000 }, () => quiet)]);
    const read = await readUploadDuration(chunked(mp3, 4096));
    // music-metadata counts the frames after the first (the one a Xing frame would be).
    expect(read?.seconds).toBeCloseTo(mp3Seconds(1003), 6);
  });
});
