import { describe, expect, it } from 'vitest';
import {
  ambiguousContentType,
  headerParams,
  PART_HEADERS_MAX_BYTES,
  partHeaderCheck,
} from '../../../src/proxy/multipart-headers.js';

/** What the check finds in `body` fed in pieces of `size` bytes. */
function check(body: Buffer, size: number, boundary = 'XyZ'): string | undefined {
  const feed = partHeaderCheck(boundary);
  for (let at = 0; at < body.length; at += size) {
    const why = feed(body.subarray(at, at + size));
    if (why) return why;
  }
  return undefined;
}

const part = (headers: string, value: string | Buffer) =>
  Buffer.concat([Buffer.from(`--XyZ\r\n${headers}\r\n\r\n`), Buffer.from(value), Buffer.from('\r\n')]);
const end = Buffer.from('--XyZ--\r\n');
const SIZES = [1, 2, 3, 5, 8, 13, 64, 1000, 1 << 20];

describe('the part headers of a multipart upload', () => {
  // A file whose bytes look like delimiters and headers, but are not (no CRLF before, or another boundary).
  const tricky = Buffer.from(
    '--XyZ\r\nContent-Disposition: form-data; name="a"; name="b"\r\n\r\n--XyZx\r\n\r\n\r\n-- XyZ--XyZ',
  );
  const ordinary = Buffer.concat([
    Buffer.from('preamble\r\n'),
    part('Content-Disposition: form-data; name="model"', 'whisper-1'),
    part('Content-Disposition: form-data; name="empty"', ''),
    part('content-disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav', tricky),
    part(
      `Content-Disposition: form-data; name="image"; filename="x.png"; filename*=utf-8''%C3%A9.png`,
      'png',
    ),
    end,
    Buffer.from('epilogue\r\nContent-Disposition: form-data; name="n"; name="n"\r\n\r\n'),
  ]);

  it('finds nothing ambiguous in an ordinary upload, however it is split', () => {
    for (const size of SIZES) expect(check(ordinary, size)).toBeUndefined();
    // The body may open with its first delimiter.
    for (const size of SIZES) expect(check(ordinary.subarray('preamble\r\n'.length), size)).toBeUndefined();
  });

  it.each([
    ['Content-Disposition: form-data; name="prompt"; name="n"', /parameter 'name' more than once/],
    ['Content-Disposition: form-data; NAME="prompt"; name="n"', /parameter 'name' more than once/],
    ['Content-Disposition: form-data; name="f"; filename="a"; filename="b"', /'filename' more than once/],
    [
      'Content-Disposition: form-data; name="prompt"\r\nContent-Disposition: form-data; name="n"',
      /more than one/,
    ],
    ["Content-Disposition: form-data; name*=UTF-8''n", /name\*/],
    ['Content-Disposition: form-data;\r\n name="n"', /folded/],
  ])('finds %j in any part, however the upload is split', (headers, why) => {
    const body = Buffer.concat([
      part('Content-Disposition: form-data; name="model"', 'gpt-image-1'),
      part(headers, '10'),
      end,
    ]);
    for (const size of SIZES) expect(check(body, size)).toMatch(why);
  });

  it('refuses part headers past 16 kB', () => {
    const body = Buffer.concat([part(`X-Pad: ${'p'.repeat(PART_HEADERS_MAX_BYTES)}`, 'v'), end]);
    for (const size of [7, 4096]) expect(check(body, size)).toMatch(/16 kB/);
  });

  it('reads header parameters quoted, escaped and bare, and a repeated content-type parameter', () => {
    expect(headerParams('form-data; name="a;b"; filename="q\\"x"; bare=1;  Flag')).toEqual([
      ['name', 'a;b'],
      ['filename', 'q"x'],
      ['bare', '1'],
      ['flag', ''],
    ]);
    expect(ambiguousContentType('multipart/form-data; boundary=A')).toBeUndefined();
    expect(ambiguousContentType('multipart/form-data; boundary=A; Boundary="B"')).toMatch(/'boundary'/);
  });
});
