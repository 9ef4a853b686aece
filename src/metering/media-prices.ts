import type { ModelConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { checkedUsd } from '../pricing/money.js';
import { costWith, priceAt, type Usage } from '../pricing/pricing.js';

/**
 * The most an image or audio request can cost (its reservation) and what it did cost (its
 * settlement), from the model's unit prices in keys.yaml (`image_usd`,
 * `input_per_mchar`, `audio_per_minute`) or else the catalog's token and duration prices. Pure
 * arithmetic: the request's fields are read in src/proxy/media-*.ts.
 */

/** What an image or audio request is, as metered: beside the tokens (docs/api.md#images-and-audio). */
export interface MediaUnits {
  images?: number;
  audioSeconds?: number;
  characters?: number;
}

/** A bound, and what a refused request is told about it. */
export interface MediaBound {
  usd: number;
  /** The tokens the bound assumed, for the rate limit's tpm and an estimate of a cut exchange. */
  inputTokens: number;
  outputTokens: number;
  why: string;
}

type ImageTokens = Record<string, Record<string, number>>;

/**
 * Output tokens of one image of OpenAI's token-priced image models, by quality and size (OpenAI's
 * image generation guide: a gpt-image-1 1024x1024 high-quality image is 4160 tokens). `auto` is the dearest.
 */
const IMAGE_OUTPUT_TOKENS: ImageTokens = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
};
/**
 * gpt-image-2 counts its images otherwise, the square one dearest: OpenAI's image-generation
 * calculator and model page give 1024x1024 as 196, 1756 and 7024 tokens ($0.006, $0.053 and
 * $0.211 at $30 per million), 1024x1536 and 1536x1024 as 158, 1372 and 5488.
 */
const GPT_IMAGE_2_OUTPUT_TOKENS: ImageTokens = {
  low: { '1024x1024': 196, '1024x1536': 158, '1536x1024': 158 },
  medium: { '1024x1024': 1756, '1024x1536': 1372, '1536x1024': 1372 },
  high: { '1024x1024': 7024, '1024x1536': 5488, '1536x1024': 5488 },
};

/** The image-token counts of a model: gpt-image-2's (and its snapshots'), else gpt-image-1's. */
const imageTokensOf = (model: ModelConfig): ImageTokens =>
  /^gpt-image-2(-|$)/.test(model.catalogId ?? model.name) ? GPT_IMAGE_2_OUTPUT_TOKENS : IMAGE_OUTPUT_TOKENS;
/**
 * Text a drawing model writes beside each image, billed as text output: gpt-image-1.5 and later
 * report `output_tokens_details.text_tokens` (about 200 for a short prompt on gpt-image-1.5, at
 * $10 per million, beside 272 image tokens for a low 1024x1024 image), which no size or quality
 * bounds; OpenAI documents no maximum. Reserved per image at this plus the prompt's own bound
 * (the text may restate it). gpt-image-1 and gpt-image-1-mini write none.
 */
export const IMAGE_TEXT_OUTPUT_TOKENS = 1_024;
/** Whether a token-priced image model bills text output beside its images (not gpt-image-1 or -1-mini). */
const writesText = (model: ModelConfig): boolean =>
  !/^gpt-image-1(-mini)?(-\d{4}-\d{2}-\d{2})?$/.test(model.catalogId ?? model.name);
/** Each partial image of a streamed generation is billed as this many more output tokens. */
const PARTIAL_IMAGE_TOKENS = 100;
/**
 * The most input tokens one input image (or mask) of an edit can be billed as: OpenAI bills an
 * input image by its tiles, more with `input_fidelity: high`; this stays above both, and settling
 * charges the provider's count.
 */
export const EDIT_IMAGE_TOKENS_MAX = 8_000;
/**
 * Input audio tokens per second, high side: OpenAI's audio models read about 10 a second (600 a
 * minute); a transcription's audio is bounded at five times that, and by the model's context window.
 */
const AUDIO_TOKENS_PER_SECOND_MAX = 50;
/** Tokens a text field may add above its UTF-8 bytes (a token is at least one byte): framing. */
const TEXT_OVERHEAD_TOKENS = 32;

/** Input tokens of a text field, high side: one per UTF-8 byte. */
export const textTokensMax = (text: string): number =>
  text === '' ? 0 : Buffer.byteLength(text, 'utf8') + TEXT_OVERHEAD_TOKENS;

const usd = (x: number) => `$${x.toFixed(4)}`;

const table = (model: ModelConfig, ts: number) =>
  model.prices.length > 0 ? priceAt(model.prices, ts) : undefined;

function noPrice(model: ModelConfig, what: string, field: string): GatewayError {
  return new GatewayError(
    'invalid_request',
    `model '${model.name}' has no ${what} price, so tollgate cannot bound what this request costs; the gateway's owner can set ${field} on it in keys.yaml.`,
  );
}

/** `dall-e-3 hd 1024x1792` → the dearest price of the map entries that size and quality can be billed as. */
export function imageUnitPrice(
  prices: number | Record<string, number>,
  size: string | undefined,
  quality: string | undefined,
): number | undefined {
  if (typeof prices === 'number') return prices;
  const anySize = size === undefined || size === 'auto';
  const anyQuality = quality === undefined || quality === 'auto';
  let dearest: number | undefined;
  for (const [entry, price] of Object.entries(prices)) {
    const parts = entry.split(' ');
    const entrySize = parts.length === 2 ? parts[1] : parts[0];
    const entryQuality = parts.length === 2 ? parts[0] : undefined;
    const sizeFits = anySize || entrySize === 'auto' || entrySize === size;
    // An entry without quality is the standard quality's; a quality asked for and not listed falls back to it.
    const listed = Object.keys(prices).some((k) => k === `${quality} ${entrySize}`);
    const qualityFits = anyQuality || entryQuality === quality || (entryQuality === undefined && !listed);
    if (sizeFits && qualityFits && (dearest === undefined || price > dearest)) dearest = price;
  }
  return dearest;
}

/** Output tokens of one image of a token-priced image model; undefined for a size it does not bill this way. */
export function imageOutputTokens(
  size: string | undefined,
  quality: string | undefined,
  tokens: ImageTokens = IMAGE_OUTPUT_TOKENS,
): number | undefined {
  const qualities = quality === undefined || quality === 'auto' ? Object.keys(tokens) : [quality];
  let most: number | undefined;
  for (const q of qualities) {
    const bySize = tokens[q];
    if (!bySize) return undefined;
    const sizes = size === undefined || size === 'auto' ? Object.values(bySize) : [bySize[size]];
    for (const t of sizes) {
      if (t === undefined) return undefined;
      most = Math.max(most ?? 0, t);
    }
  }
  return most;
}

export interface ImageAsk {
  n: number;
  size?: string;
  quality?: string;
  prompt: string;
  /** Input images and masks of an edit. */
  inputImages: number;
  partialImages: number;
}

/** n x the dearest image the size and quality asked can be, plus the prompt and any input images. */
export function boundImages(model: ModelConfig, ts: number, ask: ImageAsk): MediaBound {
  const unit = model.units?.imageUsd;
  if (unit !== undefined) {
    const price = imageUnitPrice(unit, ask.size, ask.quality);
    if (price === undefined) {
      throw new GatewayError(
        'invalid_request',
        `model '${model.name}' has no image price for size '${ask.size}'${ask.quality ? ` at quality '${ask.quality}'` : ''} (its image_usd in keys.yaml lists: ${Object.keys(unit).join(', ')}); ask for one of those sizes in 'size'.`,
      );
    }
    const total = checkedUsd(ask.n * price, 'the most these images can cost');
    return {
      usd: total,
      inputTokens: 0,
      outputTokens: 0,
      why: `${ask.n} image(s) at up to ${usd(price)} each`,
    };
  }
  const t = table(model, ts);
  const perImage = imageOutputTokens(ask.size, ask.quality, imageTokensOf(model));
  if (!t || !/image/.test(model.catalogId ?? model.name)) throw noPrice(model, 'image', 'image_usd');
  if (perImage === undefined) {
    throw new GatewayError(
      'invalid_request',
      `model '${model.name}' is priced by image tokens, which tollgate knows for sizes 1024x1024, 1024x1536, 1536x1024 and auto at quality low, medium, high and auto; size '${ask.size}' at quality '${ask.quality ?? 'auto'}' is not one of them: change 'size' or 'quality'.`,
    );
  }
  // n images are n calls: each reads the prompt and every input image again, and is billed for them
  // (measured on gpt-image-2's edits, an OpenAI community write-up: n > 1 bills as individual calls).
  const imageIn = ask.n * ask.inputImages * EDIT_IMAGE_TOKENS_MAX;
  const inputTokens = ask.n * textTokensMax(ask.prompt) + imageIn;
  const imageOut = ask.n * (perImage + ask.partialImages * PARTIAL_IMAGE_TOKENS);
  const textOut = writesText(model) ? ask.n * (IMAGE_TEXT_OUTPUT_TOKENS + textTokensMax(ask.prompt)) : 0;
  const outputTokens = imageOut + textOut;
  const usage: Usage = {
    inputTokens,
    inputImageTokens: imageIn,
    outputTokens,
    outputImageTokens: imageOut,
    cachedTokens: 0,
    cacheWriteTokens: 0,
  };
  return {
    usd: checkedUsd(costWith(usage, t), 'the most these images can cost'),
    inputTokens,
    outputTokens,
    why: `${ask.n} image(s) of up to ${perImage} output tokens each${textOut > 0 ? ` and ${textOut / ask.n} of text` : ''}`,
  };
}

/** An image's size and quality: as asked, or as the answer says it made it. */
export interface ImageShape {
  size?: string;
  quality?: string;
}

/**
 * What images cost that the provider reported no tokens for (unit-priced): each at the price of
 * the shape the answer says it made; a shape `image_usd` does not list is charged as the bound
 * priced it (the dearest entry the asked size and quality fit, else the dearest of all), never 0.
 */
export function costOfImages(model: ModelConfig, count: number, made: ImageShape, asked: ImageShape): number {
  const unit = model.units?.imageUsd;
  if (unit === undefined) return 0;
  const price =
    imageUnitPrice(unit, made.size, made.quality) ??
    imageUnitPrice(unit, asked.size, asked.quality) ??
    imageUnitPrice(unit, undefined, undefined) ??
    0;
  return checkedUsd(count * price, 'the cost of these images');
}

export interface SpeechAsk {
  input: string;
  instructions: string;
  /** The request's `speed` (OpenAI takes 0.25 to 4; default 1). */
  speed: number;
}

/** Characters as the provider counts them: Unicode code points. */
export const characterCount = (text: string): number => [...text].length;

/**
 * A token-priced voice is bounded by the most audio its input can become: the upstream does not
 * enforce `max_output_tokens` on speech. Ordinary speech is about 15 characters a second at speed
 * 1; the floor is one, for input read out far longer than it is written (digits one by one, an
 * emoji read as its name, `instructions` asking for a slow voice).
 */
export const SPEECH_CHARS_PER_SECOND_MIN = 1;
/** Audio tokens a second of speech, high side: gpt-4o-mini-tts bills about 21 ($0.015 a minute at $12/M). */
export const SPEECH_AUDIO_TOKENS_PER_SECOND_MAX = 25;
/** OpenAI's range of `speed`; a value outside it (or not a number) is bounded as the slowest. */
const SPEED_RANGE = [0.25, 4] as const;

/**
 * What the seconds of audio billed for a text are divided by at `speed`, for the bound and for
 * the estimate of an answer that reports no usage alike (media-meter.ts). OpenAI's speech page does
 * not say whether `speed` changes the audio tokens billed; its Realtime API documents its own
 * `speed` as applied to the audio after it is generated (billed at the voice's own pace). So the
 * side never below the bill is taken: a speed above 1 does not shorten the audio charged (as if
 * applied after), one below 1 lengthens it (as if the voice were slowed as it is generated; if
 * not, speed 0.25 is charged up to 4 x the audio billed). A value outside OpenAI's 0.25 to 4, or
 * not a number, counts as the slowest.
 */
export function speechPace(speed: number): number {
  const s =
    Number.isFinite(speed) && speed >= SPEED_RANGE[0] && speed <= SPEED_RANGE[1] ? speed : SPEED_RANGE[0];
  return Math.min(s, 1);
}

/** The most seconds of audio `chars` characters can be generated as at `speed` (speechPace). */
export function speechSecondsMax(chars: number, speed: number): number {
  return Math.ceil(chars / SPEECH_CHARS_PER_SECOND_MIN / speechPace(speed));
}

/** Speech: the input's characters, or for a token-priced voice its text and the most audio it may produce. */
export function boundSpeech(model: ModelConfig, ts: number, ask: SpeechAsk): MediaBound {
  const chars = characterCount(ask.input);
  const perMchar = model.units?.inputPerMchar;
  if (perMchar !== undefined) {
    return {
      usd: checkedUsd((chars * perMchar) / 1e6, 'the cost of this speech'),
      inputTokens: 0,
      outputTokens: 0,
      why: `${chars} characters`,
    };
  }
  const t = table(model, ts);
  if (!t) throw noPrice(model, 'speech', 'input_per_mchar');
  const inputTokens = textTokensMax(ask.input) + textTokensMax(ask.instructions);
  const seconds = speechSecondsMax(chars, ask.speed);
  const outputTokens = seconds * SPEECH_AUDIO_TOKENS_PER_SECOND_MAX;
  const usage: Usage = {
    inputTokens,
    outputTokens,
    outputAudioTokens: outputTokens,
    cachedTokens: 0,
    cacheWriteTokens: 0,
  };
  return {
    usd: checkedUsd(costWith(usage, t), 'the most this speech can cost'),
    inputTokens,
    outputTokens,
    why: `${chars} characters, up to ${seconds} seconds of audio (${outputTokens} audio tokens)`,
  };
}

/** USD per second of input audio: keys.yaml's audio_per_minute, else the catalog's duration price. */
export function perAudioSecond(model: ModelConfig, ts: number): number | undefined {
  if (model.units?.audioPerMinute !== undefined) return model.units.audioPerMinute / 60;
  return table(model, ts)?.perAudioSecond;
}

/** Whether a transcription model is billed by tokens alone (then an unreadable duration is bounded by its context). */
export function pricedByTokens(model: ModelConfig, ts: number): boolean {
  const t = table(model, ts);
  return perAudioSecond(model, ts) === undefined && t !== undefined && t.inputAudio !== undefined;
}

/**
 * The most seconds a provider may report for a file read as `fileSeconds` and still be believed
 * (media-meter.ts): a second or a tenth over it, whichever is more, for rounding and for a
 * container whose header and decoder disagree. A duration-priced bound reserves this much, so a
 * believed report never charges past the hold.
 */
export const credibleSecondsMax = (fileSeconds: number): number =>
  fileSeconds + Math.max(1, fileSeconds / 10);

/**
 * Transcription and translation: the uploaded audio's duration (read from the file) at the
 * duration price, or for a token-priced model the audio tokens that duration can be (capped by
 * the context window) and the most text it can write back.
 */
export function boundTranscription(
  model: ModelConfig,
  ts: number,
  ask: { seconds: number | undefined; prompt: string },
): MediaBound {
  const perSecond = perAudioSecond(model, ts);
  if (perSecond !== undefined) {
    if (ask.seconds === undefined) throw new Error('a duration-priced bound needs the duration');
    // More than read: containers and decoders round a duration differently.
    const seconds = Math.ceil(credibleSecondsMax(ask.seconds));
    return {
      usd: checkedUsd(seconds * perSecond, 'the most this audio can cost'),
      inputTokens: 0,
      outputTokens: 0,
      why: `${seconds} seconds of audio`,
    };
  }
  const t = table(model, ts);
  if (!t || t.inputAudio === undefined) throw noPrice(model, 'audio', 'audio_per_minute');
  const context = model.contextWindow ?? Number.POSITIVE_INFINITY;
  const audio = ask.seconds === undefined ? context : Math.ceil(ask.seconds * AUDIO_TOKENS_PER_SECOND_MAX);
  const inputTokens = Math.min(context, audio + textTokensMax(ask.prompt));
  const outputTokens = Math.min(context, model.maxOutputTokens);
  if (!Number.isFinite(inputTokens)) throw noPrice(model, 'audio', 'context_window or audio_per_minute');
  const usage: Usage = {
    inputTokens,
    inputAudioTokens: inputTokens,
    outputTokens,
    cachedTokens: 0,
    cacheWriteTokens: 0,
  };
  return {
    usd: checkedUsd(costWith(usage, t), 'the most this transcription can cost'),
    inputTokens,
    outputTokens,
    why:
      ask.seconds === undefined
        ? `audio of unknown duration, up to the model's ${context}-token context`
        : `${Math.ceil(ask.seconds)} seconds of audio`,
  };
}

/** Duration-priced audio: the seconds the provider reported, else the file's, at the model's price. */
export function costOfAudioSeconds(model: ModelConfig, ts: number, seconds: number): number {
  return checkedUsd(seconds * (perAudioSecond(model, ts) ?? 0), 'the cost of this audio');
}

/** Character-priced speech. */
export function costOfCharacters(model: ModelConfig, chars: number): number {
  return checkedUsd((chars * (model.units?.inputPerMchar ?? 0)) / 1e6, 'the cost of this speech');
}

const price = (x: number) => `$${Number(x.toPrecision(6))}`;

/**
 * A model's prices per image, character or minute of audio, in words (`tollgate models`, diff):
 * keys.yaml's unit prices, and the catalog's duration price; undefined for a model with none.
 */
export function unitPriceText(model: ModelConfig, ts: number): string | undefined {
  const parts: string[] = [];
  const u = model.units;
  if (u?.imageUsd !== undefined) {
    parts.push(
      typeof u.imageUsd === 'number'
        ? `${price(u.imageUsd)}/image`
        : Object.entries(u.imageUsd)
            .map(([k, v]) => `${price(v)}/image ${k}`)
            .join(', '),
    );
  }
  if (u?.inputPerMchar !== undefined) parts.push(`${price(u.inputPerMchar)}/M chars`);
  const perSecond = perAudioSecond(model, ts);
  if (perSecond !== undefined)
    parts.push(`${price(perSecond * 60)}/audio min${u?.audioPerMinute === undefined ? ' (catalog)' : ''}`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}
