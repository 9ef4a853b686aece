import { describe, expect, it } from 'vitest';
import { mediaYaml } from '../helpers/fake-media.js';
import { json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';
import { multipart, postMultipart } from '../helpers/multipart-post.js';

/**
 * An edit's input images, however the form names them: `image`, `image[]`, or the indexed
 * `image[0]`, `image[1]`… some encoders write for a list. Each is reserved, so an upstream that
 * reads the indexed parts bills no input image the hold left out.
 */

const t = heldGateway((url) => ({ yaml: mediaYaml(url) }));
const { reserved } = t;

/** gpt-image-1 with input_fidelity high: a non-square input image is at most 581 + 6,144 tokens. */
const PER_INPUT = 6_725;

describe("an edit's input images", () => {
  it('reserves image[1] beside image, each billed as an input image', async () => {
    t.up.next(
      json(200, {
        created: 1,
        data: [{ b64_json: 'aW1n' }],
        size: '1024x1024',
        quality: 'low',
        usage: {
          input_tokens: 12 + 2 * PER_INPUT,
          input_tokens_details: { text_tokens: 12, image_tokens: 2 * PER_INPUT },
          output_tokens: 272,
          total_tokens: 12 + 2 * PER_INPUT + 272,
        },
      }),
    );
    const png = Buffer.from('\x89PNG\r\n\x1a\nimg');
    const r = await postMultipart(
      t.gw,
      '/v1/images/edits',
      multipart([
        { name: 'model', value: 'gpt-image-1' },
        { name: 'prompt', value: 'add a boat' },
        { name: 'size', value: '1024x1024' },
        { name: 'quality', value: 'low' },
        { name: 'input_fidelity', value: 'high' },
        { name: 'image', value: png, filename: 'a.png' },
        { name: 'image[1]', value: png, filename: 'b.png' },
      ]),
    );
    expect(r.status).toBe(200);
    const [rec] = await t.gw.waitForRecords(1);
    expect(rec).toMatchObject({ usageSource: 'provider', inputTokens: 12 + 2 * PER_INPUT });
    expect(rec?.costUsd).toBeLessThanOrEqual(reserved[0] as number);
  });
});
