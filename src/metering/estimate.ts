/**
 * Token estimates for the two moments the provider's own count is not available: before the
 * request (to reserve its maximum cost, so on the high side) and after a stream that ended without
 * usage (client abort, upstream died).
 */

/**
 * What one image costs at most as input, in tokens. Providers bill an image by its pixels, not its
 * bytes. Claude Opus 4.7 and later read images in high resolution (up to 2,576 px on the long
 * edge): ⌈w/28⌉ × ⌈h/28⌉ tokens, at most 4,784, and 3 for the image block; OpenAI's high-detail
 * tiles and patches (at most 1,536 patches x 2.46 on its nano models, 3,779) and earlier
 * Claude's ~1.15 megapixel cap (~1,600) stay under it too. (OpenAI's `original` detail is
 * billed by the image's full size, which no allowance bounds: docs/api.md#insufficient_quota-429.)
 */
export const IMAGE_INPUT_TOKENS = 4_800;

/**
 * Input tokens of a request body, high side: one token per 3 bytes of the JSON. Real text
 * averages about 4 characters per token and the JSON syntax adds more bytes, so this over-reserves
 * rather than lets concurrent requests overshoot a budget; settle charges the real count.
 * Images are counted apart, at IMAGE_INPUT_TOKENS each: a base64 screenshot is hundreds of
 * kilobytes (bytes/3 would reserve a hundred times its price), while an image given by URL is a
 * few bytes that can cost a thousand tokens. Other attachments stay at bytes/3; a PDF, billed by
 * its pages rather than its bytes, is bounded by the context window instead (unseen-input.ts).
 */
export function estimateInputTokens(bodyBytes: number, body?: unknown): number {
  const images = { count: 0, bytes: 0 };
  if (body !== undefined) findImages(body, images, 0);
  return Math.ceil(Math.max(0, bodyBytes - images.bytes) / 3) + images.count * IMAGE_INPUT_TOKENS;
}

const MAX_DEPTH = 32;

function findImages(value: unknown, found: { count: number; bytes: number }, depth: number): void {
  if (depth > MAX_DEPTH) return;
  if (typeof value === 'string') {
    // OpenAI image_url / input_image as a data URL.
    if (value.startsWith('data:image/')) {
      found.count++;
      found.bytes += value.length;
    }
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) findImages(item, found, depth + 1);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const o = value as Record<string, unknown>;
  // Anthropic: { type: 'base64', media_type: 'image/png', data } or { type: 'url', url }.
  if (typeof o.media_type === 'string' && o.media_type.startsWith('image/') && typeof o.data === 'string') {
    found.count++;
    found.bytes += o.data.length;
    return;
  }
  // By URL or by an uploaded file's id: billed by its pixels all the same.
  if (o.type === 'image' && isRecord(o.source) && (o.source.type === 'url' || o.source.type === 'file')) {
    found.count++;
    return;
  }
  // OpenAI: { type: 'image_url', image_url: { url } } and Responses { type: 'input_image', image_url }.
  if (o.type === 'image_url' || o.type === 'input_image') {
    const url = isRecord(o.image_url) ? o.image_url.url : o.image_url;
    if (typeof url === 'string' && !url.startsWith('data:')) found.count++;
    else if (url === undefined && typeof o.file_id === 'string') found.count++;
  }
  for (const key in o) findImages(o[key], found, depth + 1);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Output tokens of streamed text that the provider never counted: 4 characters per token, rounded up. */
export function estimateOutputTokens(textChars: number): number {
  return Math.ceil(textChars / 4);
}

/** The fields through which the wire formats cap a request's output. */
export const MAX_OUTPUT_FIELDS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const;

/** The output cap a request asks for in `fields`, if it sets one (the largest, if it sets several). */
export function requestedOutputTokens(
  body: Record<string, unknown>,
  fields: readonly string[] = MAX_OUTPUT_FIELDS,
): number | undefined {
  let found: number | undefined;
  for (const field of fields) {
    const v = body[field];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) found = Math.max(found ?? 0, Math.ceil(v));
  }
  return found;
}
