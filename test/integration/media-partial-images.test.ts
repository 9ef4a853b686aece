import { describe, expect, it } from 'vitest';
import { mediaYaml } from '../helpers/fake-media.js';
import { sse } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';
import { multipart, postMultipart } from '../helpers/multipart-post.js';

/**
 * Each partial image of a streamed generation is billed as 100 more output tokens. The gateway
 * reads `stream` as JSON's true or a form's "true"; an upstream may read it otherwise (a string
 * "true" in JSON, "1" or "True" in a form) and stream the partial images anyway. The partial
 * images asked for are reserved whatever the gateway makes of `stream`, so the settle stays
 * within the hold.
 */

const t = heldGateway((url) => ({ yaml: mediaYaml(url) }));
const { reserved } = t;

const LOW_SQUARE = 272;
const PARTIALS = 3;
/** The upstream streams n images, each billed its image tokens and its partial images. */
const streamed = (n: number) =>
  sse(
    Array.from({ length: n }, () => ({
      type: 'image_generation.completed',
      b64_json: 'aW1n',
      size: '1024x1024',
      quality: 'low',
      usage: {
        input_tokens: 10,
        input_tokens_details: { text_tokens: 10, image_tokens: 0 },
        output_tokens: LOW_SQUARE + PARTIALS * 100,
        total_tokens: 10 + LOW_SQUARE + PARTIALS * 100,
      },
    })),
  );

async function post(body: unknown) {
  const res = await fetch(`${t.gw.baseURL}/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.gw.keys.studio}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.text();
  return res.status;
}

describe('partial images the upstream streams', () => {
  it('are reserved when a JSON stream is the string "true"', async () => {
    t.up.next(streamed(2));
    const status = await post({
      model: 'gpt-image-1',
      prompt: 'a lighthouse',
      size: '1024x1024',
      quality: 'low',
      n: 2,
      stream: 'true',
      partial_images: PARTIALS,
    });
    expect(status).toBe(200);
    const [rec] = await t.gw.waitForRecords(1);
    expect(rec).toMatchObject({ usageSource: 'provider', outputTokens: 2 * (LOW_SQUARE + PARTIALS * 100) });
    expect(reserved).toHaveLength(1);
    expect(rec?.costUsd).toBeLessThanOrEqual(reserved[0] as number);
  });

  it('are reserved when a form says stream=1', async () => {
    // Ten images: their 3,000 partial-image tokens ($0.12) are more than the input image's allowance leaves over.
    t.up.next(streamed(10));
    const r = await postMultipart(
      t.gw,
      '/v1/images/edits',
      multipart([
        { name: 'model', value: 'gpt-image-1' },
        { name: 'prompt', value: 'add a boat' },
        { name: 'size', value: '1024x1024' },
        { name: 'quality', value: 'low' },
        { name: 'n', value: '10' },
        { name: 'stream', value: '1' },
        { name: 'partial_images', value: String(PARTIALS) },
        { name: 'image', value: Buffer.from('\x89PNG\r\n\x1a\nimg'), filename: 'a.png' },
      ]),
    );
    expect(r.status).toBe(200);
    const [rec] = await t.gw.waitForRecords(1);
    expect(rec?.usageSource).toBe('provider');
    expect(rec?.costUsd).toBeLessThanOrEqual(reserved[0] as number);
  });
});
