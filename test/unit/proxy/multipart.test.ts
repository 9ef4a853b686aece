import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readUploadDuration } from '../../../src/metering/audio-duration.js';
import { type MultipartBody, readMultipart } from '../../../src/proxy/multipart.js';
import { wavFile } from '../../helpers/audio-files.js';

/** Multipart bodies read as they arrive: fields, files, the raw bytes kept unchanged, and the limits. */

const BOUNDARY = 'tollgate-test-boundary';

function form(
  parts: Array<{ name: string; value: string | Buffer; filename?: string; type?: string }>,
): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    out.push(
      Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`,
      ),
    );
    out.push(typeof p.value === 'string' ? Buffer.from(p.value) : p.value);
    out.push(Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(out);
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

type Result = { ok: true; body: MultipartBody } | { ok: false; message: string };

async function serve(limit?: number): Promise<{ port: number; results: Promise<Result>[] }> {
  const results: Promise<Result>[] = [];
  server = createServer((req, res) => {
    const p = readMultipart(req, {
      ...(limit ? { limit } : {}),
      tapField: 'file',
      tap: (file: readonly Buffer[]) => readUploadDuration(file),
    }).then(
      (body): Result => ({ ok: true, body }),
      (err: Error): Result => ({ ok: false, message: err.message }),
    );
    results.push(p);
    void p.then(() => res.end('done'));
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, results };
}

function post(port: number, body: Buffer, opts: { cutAt?: number; contentType?: string } = {}) {
  return new Promise<void>((resolve) => {
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/',
      headers: {
        'content-type': opts.contentType ?? `multipart/form-data; boundary=${BOUNDARY}`,
        'content-length': body.length,
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => resolve());
    if (opts.cutAt !== undefined) {
      req.write(body.subarray(0, opts.cutAt), () => setTimeout(() => req.destroy(), 20));
    } else req.end(body);
  });
}

describe('reading a multipart upload', () => {
  it('reads the fields and the file, taps the file for its duration and keeps the bytes as sent', async () => {
    const { port, results } = await serve();
    const wav = wavFile(1.5);
    const body = form([
      { name: 'file', value: wav, filename: 'a.wav', type: 'audio/wav' },
      { name: 'model', value: 'whisper-1' },
      { name: 'response_format', value: 'text' },
    ]);
    await post(port, body);
    const r = await results[0];
    if (!r?.ok) throw new Error(r?.message);
    expect(r.body.fields).toEqual({ model: 'whisper-1', response_format: 'text' });
    expect(r.body.files).toEqual([
      {
        field: 'file',
        filename: 'a.wav',
        mimeType: 'audio/wav',
        bytes: wav.length,
        sha256: createHash('sha256').update(wav).digest('hex'),
      },
    ]);
    expect((r.body.tapped as { seconds: number }).seconds).toBeCloseTo(1.5, 6);
    // 16-bit mono PCM at 16 kHz: the most bits a second its bytes can be.
    expect((r.body.tapped as { bitsPerSecondMax: number }).bitsPerSecondMax).toBe(16_000 * 16);
    expect(Buffer.concat(r.body.chunks).equals(body)).toBe(true);
  });

  it('refuses a body over the limit, naming the file', async () => {
    const { port, results } = await serve(64 * 1024);
    await post(port, form([{ name: 'file', value: Buffer.alloc(100 * 1024), filename: 'big.wav' }]));
    const r = await results[0];
    expect(r?.ok).toBe(false);
    expect(r?.ok === false && r.message).toMatch(/larger than tollgate's limit.*'file'/);
  });

  it('refuses an upload the client cut short', async () => {
    const { port, results } = await serve();
    const body = form([
      { name: 'file', value: wavFile(2), filename: 'a.wav' },
      { name: 'model', value: 'whisper-1' },
    ]);
    await post(port, body, { cutAt: 5000 });
    const r = await results[0];
    expect(r?.ok).toBe(false);
    expect(r?.ok === false && r.message).toMatch(/mid-upload|cut short/);
  });

  it('refuses a body that is not multipart', async () => {
    const { port, results } = await serve();
    await post(port, Buffer.from('{"model":"whisper-1"}'), { contentType: 'application/json' });
    const r = await results[0];
    expect(r?.ok === false && r.message).toMatch(/multipart\/form-data/);
  });
});
