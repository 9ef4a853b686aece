import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { wavFile } from '../helpers/audio-files.js';
import { mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';
import { multipart, postMultipart } from '../helpers/multipart-post.js';

/**
 * A multipart field sent twice: the gateway forwards the body as sent, so a second copy would be
 * what the upstream reads while the bound and the allow-list were checked on one copy. Repeats of
 * the parts that set the bound are refused, naming the part, and nothing is forwarded; an edit's
 * several input images are allowed, as OpenAI takes them.
 */

const MINI_ONLY = `  mini:
    hash: {{hash:mini}}
    models: [gpt-image-1-mini]
`;
const png = Buffer.from('\x89PNG\r\n\x1a\nfake-image-bytes');
type Part = { name: string; value: string | Buffer; filename?: string };
const edit = (extra: Part[]): Part[] => [
  { name: 'model', value: 'gpt-image-1' },
  { name: 'prompt', value: 'a lighthouse at dusk' },
  { name: 'image', value: png, filename: 'a.png' },
  ...extra,
];

describe('repeated multipart fields', () => {
  let upstream: FakeUpstream;
  let gw: Harness;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({ yaml: mediaYaml(upstream.baseUrl, MINI_ONLY) });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });
  beforeEach(() => {
    gw.records.length = 0;
    upstream.reset();
  });

  it('refuses a second model that would slip a forbidden model past the allow-list', async () => {
    const r = await postMultipart(
      gw,
      '/v1/images/edits',
      multipart([
        { name: 'model', value: 'gpt-image-1' },
        { name: 'model', value: 'gpt-image-1-mini' },
        { name: 'prompt', value: 'x' },
        { name: 'image', value: png, filename: 'a.png' },
      ]),
      { key: gw.keys.mini },
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error).toMatchObject({ code: 'invalid_request' });
    expect(JSON.parse(r.text).error.message).toMatch(/'model' more than once/);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses n=10 followed by n=1, which would reserve one image for ten', async () => {
    const r = await postMultipart(
      gw,
      '/v1/images/edits',
      multipart(
        edit([
          { name: 'n', value: '10' },
          { name: 'n', value: '1' },
        ]),
      ),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/'n' more than once/);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a long prompt followed by a short one, which an upstream reading the first would bill', async () => {
    const r = await postMultipart(
      gw,
      '/v1/images/edits',
      multipart([
        { name: 'model', value: 'gpt-image-1' },
        { name: 'prompt', value: 'p'.repeat(30_000) },
        { name: 'prompt', value: 'x' },
        { name: 'image', value: png, filename: 'a.png' },
      ]),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/'prompt' more than once/);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a short audio file followed by a long one', async () => {
    const r = await postMultipart(
      gw,
      '/v1/audio/transcriptions',
      multipart([
        { name: 'model', value: 'whisper-1' },
        { name: 'file', value: wavFile(1, 8000), filename: 'short.wav' },
        { name: 'file', value: wavFile(120, 8000), filename: 'long.wav' },
      ]),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/'file' more than once/);
    expect(upstream.received).toHaveLength(0);
    const [rec] = await gw.waitForRecords(1);
    expect(rec).toMatchObject({ status: 400, errorCode: 'invalid_request', costUsd: 0 });
  });

  it.each([
    ['size', '1024x1024'],
    ['quality', 'high'],
    ['partial_images', '1'],
    ['stream', 'false'],
    ['response_format', 'b64_json'],
  ])('refuses an edit with %s twice, naming it', async (name, value) => {
    const r = await postMultipart(
      gw,
      '/v1/images/edits',
      multipart(
        edit([
          { name, value },
          { name, value },
        ]),
      ),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toContain(`'${name}' more than once`);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses an edit with two masks', async () => {
    const r = await postMultipart(
      gw,
      '/v1/images/edits',
      multipart(
        edit([
          { name: 'mask', value: png, filename: 'm.png' },
          { name: 'mask', value: png, filename: 'm2.png' },
        ]),
      ),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/'mask' more than once/);
    expect(upstream.received).toHaveLength(0);
  });

  it('forwards an edit of several input images, as OpenAI takes them', async () => {
    const r = await postMultipart(
      gw,
      '/v1/images/edits',
      multipart([
        { name: 'model', value: 'gpt-image-1' },
        { name: 'prompt', value: 'x' },
        { name: 'image[]', value: png, filename: 'a.png' },
        { name: 'image[]', value: png, filename: 'b.png' },
      ]),
    );
    expect(r.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
  });
});
