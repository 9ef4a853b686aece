import type { Usage } from '../pricing/pricing.js';
import type { UsageReader } from './usage-reader.js';

/**
 * Reads the provider's own usage of an image or audio response, whole (JSON) or event by event
 * (SSE), in OpenAI's shapes:
 * - images: `usage: {input_tokens, input_tokens_details: {text_tokens, image_tokens, cached_tokens},
 *   output_tokens, output_tokens_details: {text_tokens, image_tokens}}` beside `data: [...]`; a
 *   stream ends each image with `image_generation.completed` / `image_edit.completed` carrying it.
 * - transcriptions: `usage: {type: "tokens", input_tokens, input_token_details: {text_tokens,
 *   audio_tokens}, output_tokens}` (gpt-4o(-mini)-transcribe) or `{type: "duration", seconds}`
 *   (whisper-1); verbose_json also says `duration`; a stream ends with `transcript.text.done`.
 * - speech: only its SSE form reports usage, in `speech.audio.done`.
 */
export interface MediaReader extends UsageReader {
  /** Seconds of audio the provider said it billed (`usage.seconds`), or the verbose_json duration. */
  seconds(): number | undefined;
  /** Images the response carried (`data` entries, or completed events of a stream). */
  images(): number;
  /** The size and quality the provider says it generated (gpt-image answers say; dall-e's do not). */
  imageShape(): { size?: string; quality?: string };
  /**
   * How many image usage reports usage() adds up (a stream's completed events each carry one),
   * and the last of them (media-meter.ts: an upstream may repeat the whole request's on each).
   */
  imageReports(): { count: number; last?: Usage };
}

export type MediaUsageKind = 'openai-images' | 'openai-transcription' | 'openai-speech';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A count: 0 when absent, NaN when not a count, so plausible-usage.ts refuses the report. */
const num = (v: unknown): number =>
  v === undefined || v === null
    ? 0
    : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
      ? v
      : Number.NaN;
const present = (v: unknown): boolean => v !== undefined && v !== null;
const len = (v: unknown): number => (typeof v === 'string' ? v.length : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function imageUsage(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const input = isObject(u.input_tokens_details) ? u.input_tokens_details : {};
  const output = isObject(u.output_tokens_details) ? u.output_tokens_details : {};
  const cached = num(input.cached_tokens);
  const text = present(input.text_tokens)
    ? num(input.text_tokens)
    : num(u.input_tokens) - num(input.image_tokens);
  return {
    inputTokens: num(u.input_tokens),
    inputImageTokens: num(input.image_tokens),
    cachedTokens: cached,
    // The answer does not say which cached tokens are images: text first, whose reads save less,
    // so the charge is never below the bill.
    cachedImageTokens: Math.max(0, cached - text),
    // Without a breakdown every output token is an image token (gpt-image-1 reports none).
    outputTokens: num(u.output_tokens),
    outputImageTokens: isObject(u.output_tokens_details) ? num(output.image_tokens) : num(u.output_tokens),
    cacheWriteTokens: 0,
  };
}

/** Two images' usage, field by field. */
function addUsage(a: Usage, b: Usage): Usage {
  const sum = { ...a };
  for (const k of Object.keys(b) as Array<keyof Usage>) sum[k] = (a[k] ?? 0) + (b[k] ?? 0);
  return sum;
}

/** Transcription `usage` of `type: "tokens"`: audio is part of input. */
function transcriptionUsage(u: unknown): Usage | undefined {
  if (!isObject(u) || u.type === 'duration') return undefined;
  if (u.input_tokens === undefined && u.output_tokens === undefined) return undefined;
  const details = isObject(u.input_token_details) ? u.input_token_details : undefined;
  // Without a breakdown (a relay that drops it), the input not said to be text is audio, the
  // dearer ($6 against $2.50 per million on gpt-4o-transcribe): never charged below the bill.
  const audio = present(details?.audio_tokens)
    ? num(details?.audio_tokens)
    : num(u.input_tokens) - num(details?.text_tokens);
  return {
    inputTokens: num(u.input_tokens),
    inputAudioTokens: audio,
    outputTokens: num(u.output_tokens),
    cachedTokens: 0,
    cacheWriteTokens: 0,
  };
}

/** Speech `usage`: its output is audio. */
function speechUsage(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  return {
    inputTokens: num(u.input_tokens),
    outputTokens: num(u.output_tokens),
    outputAudioTokens: num(u.output_tokens),
    cachedTokens: 0,
    cacheWriteTokens: 0,
  };
}

/** Seconds a provider says it billed, or NaN when no audio can last that long (distrusted). */
const plausibleSeconds = (s: unknown): number =>
  typeof s === 'number' && Number.isFinite(s) && s >= 0 && s < 1e7 ? s : Number.NaN;

const durationSeconds = (u: unknown): number | undefined => {
  if (!isObject(u) || u.type !== 'duration') return undefined;
  return plausibleSeconds(u.seconds);
};

export function createMediaReader(kind: MediaUsageKind): MediaReader {
  let usage: Usage | undefined;
  const reports: { count: number; last?: Usage } = { count: 0 };
  let seconds: number | undefined;
  let images = 0;
  let chars = 0;
  const shape: { size?: string; quality?: string } = {};
  const readUsage = (u: unknown) => {
    const read =
      kind === 'openai-images'
        ? imageUsage(u)
        : kind === 'openai-speech'
          ? speechUsage(u)
          : transcriptionUsage(u);
    if (read) {
      // A stream of several images reports each image's usage, input included: each image is a
      // call of its own, billed for the prompt and input images it read, so they add up.
      usage = kind === 'openai-images' && usage ? addUsage(usage, read) : read;
      reports.count += 1;
      reports.last = read;
    }
    const s = durationSeconds(u);
    if (s !== undefined) seconds = s;
  };
  const readShape = (body: Json) => {
    const size = str(body.size);
    const quality = str(body.quality);
    if (size) shape.size = size;
    if (quality) shape.quality = quality;
  };
  return {
    readJson(body) {
      if (!isObject(body)) return;
      readUsage(body.usage);
      if (Array.isArray(body.data)) images += body.data.length;
      if (kind === 'openai-images') readShape(body);
      if (kind === 'openai-transcription') {
        chars += len(body.text);
        // verbose_json of whisper-1 says the duration it transcribed; checked as usage.seconds is
        // (a negative one made the charge throw after the answer went out: charged nothing).
        if (seconds === undefined && typeof body.duration === 'number')
          seconds = plausibleSeconds(body.duration);
      }
    },
    readText(text) {
      // gpt-4o(-mini)-transcribe in text, srt or vtt reports no tokens: the characters it wrote
      // back (timestamps included, on the high side) estimate its output.
      if (kind === 'openai-transcription') chars += text.length;
    },
    readEvent(data) {
      if (!isObject(data)) return;
      const type = str(data.type) ?? '';
      if (type === 'image_generation.completed' || type === 'image_edit.completed') {
        images += 1;
        readShape(data);
        readUsage(data.usage);
      } else if (type === 'transcript.text.delta') chars += len(data.delta);
      else if (type === 'transcript.text.done' || type === 'speech.audio.done') readUsage(data.usage);
    },
    usage: () => usage,
    textChars: () => chars,
    final: () => usage !== undefined || seconds !== undefined,
    reasoned: () => false,
    seconds: () => seconds,
    images: () => images,
    imageShape: () => shape,
    imageReports: () => reports,
  };
}
