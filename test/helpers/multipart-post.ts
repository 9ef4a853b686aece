import { request } from 'node:http';
import type { Harness } from './gateway-harness.js';

/** Multipart bodies written by hand, for the cases the official client cannot produce. */

/** A multipart body written by hand, so the tests can leave parts out or cut it short. */
export function multipart(parts: Array<{ name: string; value: string | Buffer; filename?: string }>) {
  const boundary = 'tollgate-limits';
  const out: Buffer[] = [];
  for (const p of parts) {
    const file = p.filename ? `; filename="${p.filename}"\r\nContent-Type: audio/wav` : '';
    out.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${file}\r\n\r\n`));
    out.push(typeof p.value === 'string' ? Buffer.from(p.value) : p.value, Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(out), contentType: `multipart/form-data; boundary=${boundary}` };
}

export function postMultipart(
  gw: Harness,
  path: string,
  body: { body: Buffer; contentType: string },
  opts: { cutAt?: number; key?: string } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const req = request(`${gw.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${opts.key ?? gw.keys.studio}`,
        'content-type': body.contentType,
        'content-length': body.body.length,
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', () => resolve({ status: 0, text: '' }));
    if (opts.cutAt === undefined) req.end(body.body);
    else req.write(body.body.subarray(0, opts.cutAt), () => setTimeout(() => req.destroy(), 30));
  });
}
