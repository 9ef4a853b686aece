import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { wavFile } from '../helpers/audio-files.js';
import { mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';
import { multipart, postMultipart } from '../helpers/multipart-post.js';

/**
 * An upload that parsers read two ways: the body is forwarded as sent, and busboy takes the first
 * of a repeated header parameter where Python's parsers take the last, so the gateway would bound
 * one request (n=1, a one-second file) while the upstream ran another (n=10, an hour of audio).
 * Refused 400 naming what is ambiguous, nothing forwarded (docs/api.md#images-and-audio).
 */

const png = Buffer.from('\x89PNG\r\n\x1a\nfake-image-bytes');
const part = (disposition: string, value: string | Buffer) => [
  Buffer.from(`--B\r\n${disposition}\r\n\r\n`),
  typeof value === 'string' ? Buffer.from(value) : value,
  Buffer.from('\r\n'),
];
const body = (...parts: Buffer[][]) => ({
  body: Buffer.concat([...parts.flat(), Buffer.from('--B--\r\n')]),
  contentType: 'multipart/form-data; boundary=B',
});
const editParts = [
  part('Content-Disposition: form-data; name="model"', 'gpt-image-1'),
  part('Content-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png', png),
];

describe('an upload parsers read two ways', () => {
  let upstream: FakeUpstream;
  let gw: Harness;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: mediaYaml(upstream.baseUrl) });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });
  beforeEach(() => {
    gw.records.length = 0;
    upstream.reset();
  });

  it('refuses a content-type with two boundaries (busboy reads the first, Python the last)', async () => {
    // Read with boundary A: whisper-1 and a one-second file; with boundary B: a two-minute one.
    const a = multipart([
      { name: 'model', value: 'whisper-1' },
      { name: 'file', value: wavFile(1, 8000), filename: 'short.wav' },
    ]);
    const r = await postMultipart(gw, '/v1/audio/transcriptions', {
      body: a.body,
      contentType: `${a.contentType}; boundary=B`,
    });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error).toMatchObject({ code: 'invalid_request' });
    expect(JSON.parse(r.text).error.message).toMatch(/parameter 'boundary' more than once/);
    expect(upstream.received).toHaveLength(0);
  });

  it("refuses a part named twice, which busboy reads as 'prompt' and Python as 'n'", async () => {
    const r = await postMultipart(
      gw,
      '/v1/images/edits',
      body(...editParts, part('Content-Disposition: form-data; name="prompt"; name="n"', '10')),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/parameter 'name' more than once/);
    expect(upstream.received).toHaveLength(0);
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({ status: 400, errorCode: 'invalid_request', costUsd: 0 });
  });

  it('refuses a part with two Content-Disposition headers', async () => {
    const r = await postMultipart(
      gw,
      '/v1/images/edits',
      body(
        ...editParts,
        part(
          'Content-Disposition: form-data; name="prompt"\r\nContent-Disposition: form-data; name="n"',
          '10',
        ),
      ),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/more than one Content-Disposition/);
    expect(upstream.received).toHaveLength(0);
  });

  it("refuses a part named by name* (busboy reads no name, another parser 'n')", async () => {
    const r = await postMultipart(
      gw,
      '/v1/images/edits',
      body(
        ...editParts,
        part('Content-Disposition: form-data; name="prompt"', 'x'),
        part("Content-Disposition: form-data; name*=UTF-8''n", '10'),
      ),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/name\*/);
    expect(upstream.received).toHaveLength(0);
  });

  it('forwards an ordinary edit with filename and filename* (as .NET writes a non-ASCII name)', async () => {
    const r = await postMultipart(
      gw,
      '/v1/images/edits',
      body(
        part('Content-Disposition: form-data; name="model"', 'gpt-image-1'),
        part('Content-Disposition: form-data; name="prompt"', 'a lighthouse'),
        part(
          `Content-Disposition: form-data; name="image"; filename="phare.png"; filename*=utf-8''phar%C3%A9.png\r\nContent-Type: image/png`,
          png,
        ),
      ),
    );
    expect(r.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
  });
});
