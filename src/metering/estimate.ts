/**
 * Token estimates for the two moments the provider's own count is not available: before the
 * request (to reserve its maximum cost, so on the high side) and after a stream that ended without
 * usage (client abort, upstream died).
 */

/**
 * What one image costs at most as input, in tokens, on most models. Providers bill an image by its
 * pixels, not its bytes. Claude Opus 4.7 and later read images in high resolution (up to 2,576 px
 * on the long edge): ⌈w/28⌉ × ⌈h/28⌉ tokens, at most 4,784, and 3 for the image block; gpt-4o's
 * 85 + 170 per 512-px tile (at most 8 tiles, 1,445), OpenAI's patches (at most 1,536 patches x 2.46
 * on its nano models, 3,779) and earlier Claude's ~1.15 megapixel cap (~1,600) stay under it too.
 * gpt-4o-mini's tiles do not, by far: GPT_4O_MINI_IMAGE. OpenAI's `original` detail does not
 * either: ORIGINAL_IMAGE_TOKENS.
 */
export const IMAGE_INPUT_TOKENS = 4_800;

/**
 * OpenAI's `detail: "original"` (gpt-5.4 and later) reads an image at its own size up to 6,000 px,
 * in at most 10,000 patches of 32 x 32 px (OpenAI's images and vision guide), each billed at the
 * model's patch multiplier: 1.2 on GPT-5.2 and later as measured, 1.62 and 2.46 on the mini and
 * nano models the guide lists, 2.46 the dearest it documents. An image in original detail counts
 * 10,000 x 2.46 tokens, the most any documented model bills for one (about twice gpt-5.4's 12,000).
 */
export const ORIGINAL_IMAGE_TOKENS = 10_000 * 2.46;

/** The most one image is billed as input, by the detail the request asks for it in. */
export interface ImageAllowance {
  /** `detail: "high"` or `"auto"`, no detail, and every image of a format without one. */
  high: number;
  /** OpenAI's `detail: "low"`. */
  low: number;
  /** OpenAI's `detail: "original"`. */
  original: number;
}

export const DEFAULT_IMAGE_ALLOWANCE: ImageAllowance = {
  high: IMAGE_INPUT_TOKENS,
  low: IMAGE_INPUT_TOKENS,
  original: ORIGINAL_IMAGE_TOKENS,
};

/**
 * gpt-4o-mini counts an image in 33 times gpt-4o's tokens (at 1/16.7 of its price): 2,833 base plus
 * 5,667 per 512-px tile in high or auto detail (the image fit in 2,048 x 2,048, then its short side
 * brought down to 768: at most 2 x 4 tiles, 48,169 tokens; 8,500 for a 512-px image, 25,501 for
 * 1024 x 1024), and the 2,833 base alone in low detail.
 */
export const GPT_4O_MINI_IMAGE: ImageAllowance = {
  high: 2_833 + 8 * 5_667,
  low: 2_833,
  // It has no original detail; should one be billed, at most as much as the dearest other.
  original: Math.max(2_833 + 8 * 5_667, ORIGINAL_IMAGE_TOKENS),
};

const GPT_4O_MINI = /^gpt-4o-mini/;

/**
 * The image allowance of the model a request goes to, by its names (the keys.yaml entry and the
 * name the client asked for; a router's `openai/` prefix is ignored): the dearest of the families
 * any of them belongs to.
 */
export function imageAllowanceOf(names: readonly string[]): ImageAllowance {
  const mini = names.some((name) => GPT_4O_MINI.test(name.slice(name.lastIndexOf('/') + 1).toLowerCase()));
  return mini ? GPT_4O_MINI_IMAGE : DEFAULT_IMAGE_ALLOWANCE;
}

/**
 * Input tokens of a request body, high side: one token per 3 bytes of the JSON. Real text
 * averages about 4 characters per token and the JSON syntax adds more bytes, so this over-reserves
 * rather than lets concurrent requests overshoot a budget; settle charges the real count.
 * Images are counted apart, at the model's ImageAllowance each: a base64 screenshot is hundreds of
 * kilobytes (bytes/3 would reserve many times its price on most models), while an image given by
 * URL is a few bytes that can cost thousands of tokens. Other attachments stay at bytes/3; a PDF,
 * billed by its pages rather than its bytes, is bounded by the context window instead
 * (unseen-input.ts).
 */
export function estimateInputTokens(
  bodyBytes: number,
  body?: unknown,
  allowance: ImageAllowance = DEFAULT_IMAGE_ALLOWANCE,
): number {
  const images: FoundImages = { high: 0, low: 0, original: 0, bytes: 0 };
  if (body !== undefined) findImages(body, images, 0);
  return (
    Math.ceil(Math.max(0, bodyBytes - images.bytes) / 3) +
    images.high * allowance.high +
    images.low * allowance.low +
    images.original * allowance.original
  );
}

interface FoundImages {
  high: number;
  low: number;
  original: number;
  bytes: number;
}

function countByDetail(found: FoundImages, detail: unknown): void {
  if (detail === 'low') found.low++;
  else if (detail === 'original') found.original++;
  else found.high++;
}

const MAX_DEPTH = 32;

function findImages(value: unknown, found: FoundImages, depth: number): void {
  if (depth > MAX_DEPTH) return;
  if (typeof value === 'string') {
    // A data-URL image outside the parts below (no detail known: the high allowance).
    if (value.startsWith('data:image/')) {
      found.high++;
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
    found.high++;
    found.bytes += o.data.length;
    return;
  }
  // By URL or by an uploaded file's id: billed by its pixels all the same.
  if (o.type === 'image' && isRecord(o.source) && (o.source.type === 'url' || o.source.type === 'file')) {
    found.high++;
    return;
  }
  // OpenAI: { type: 'image_url', image_url: { url, detail } } and Responses
  // { type: 'input_image', image_url, detail }, by URL, data URL or file id.
  if (o.type === 'image_url' || o.type === 'input_image') {
    const url = isRecord(o.image_url) ? o.image_url.url : o.image_url;
    const detail = isRecord(o.image_url) ? o.image_url.detail : o.detail;
    const image = typeof url === 'string' ? url : undefined;
    if (image?.startsWith('data:image/') || (image !== undefined && !image.startsWith('data:'))) {
      countByDetail(found, detail);
      if (image.startsWith('data:')) found.bytes += image.length;
      return;
    }
    if (url === undefined && typeof o.file_id === 'string') {
      countByDetail(found, detail);
      return;
    }
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
