import { checkedUsd } from './money.js';

/**
 * Prices and cost. A model's prices are resolved once, when the config is loaded (explicit
 * keys.yaml prices over the bundled catalog's, see src/config/load/model-prices.ts), into plain
 * tables; metering a request is then arithmetic on them, with no catalog lookup on the hot path.
 * The arithmetic is the catalog's own (`calcPrice` of @pydantic/genai-prices): each kind of token
 * at its own price, tiers chosen by the request's total input tokens, and a test checks the two
 * agree to 1e-9 USD.
 */

/** Tokens of one request as the gateway meters them. */
export interface Usage {
  /** All input tokens: uncached, cache reads and cache writes. */
  inputTokens: number;
  /** All output tokens, reasoning tokens included. */
  outputTokens: number;
  /** The part of inputTokens read from a prompt cache. */
  cachedTokens: number;
  /** The part of inputTokens written to a prompt cache (Anthropic), any TTL. */
  cacheWriteTokens: number;
  /** The part of cacheWriteTokens written with a 1-hour TTL, when the provider says so. */
  cacheWrite1hTokens?: number;
  /** The part of outputTokens spent on reasoning, when the provider says so. */
  reasoningTokens?: number;
  /** The parts of inputTokens and outputTokens that are audio (OpenAI's audio models), cached audio included. */
  inputAudioTokens?: number;
  /** The part of inputAudioTokens read from a cache, when the provider says (`cached_tokens_details.audio_tokens`). */
  cachedAudioTokens?: number;
  outputAudioTokens?: number;
  /** Server-side web searches the provider ran and bills per search (Anthropic's web_search tool). */
  webSearches?: number;
  /** The part of inputTokens that is images (OpenAI's image models), and of it the part read from a cache. */
  inputImageTokens?: number;
  cachedImageTokens?: number;
  /** The part of outputTokens that is images, for the models that price image output apart. */
  outputImageTokens?: number;
  /** Seconds of input audio, for the models billed by duration (whisper-1). */
  audioSeconds?: number;
}

export const NO_USAGE: Usage = { inputTokens: 0, outputTokens: 0, cachedTokens: 0, cacheWriteTokens: 0 };

/** USD per million tokens: `base`, or a tier's price once the request's input exceeds its `start`. */
export interface Tiered {
  base: number;
  /** Ascending by start. */
  tiers: Array<{ start: number; price: number }>;
}

/** Every kind of token a provider bills, at its price. */
export interface PriceTable {
  /** Uncached input. */
  input: Tiered;
  cacheRead: Tiered;
  /** Cache writes of the default (Anthropic: 5-minute) TTL. */
  cacheWrite: Tiered;
  cacheWrite1h: Tiered;
  /** Output, reasoning included unless `outputReasoning` prices it apart. */
  output: Tiered;
  outputReasoning?: Tiered;
  /** Audio input and output, for the models that price audio apart from text. */
  inputAudio?: Tiered;
  outputAudio?: Tiered;
  /** Audio input read from a cache, where priced apart from cached text (OpenAI's realtime models). */
  cacheAudioRead?: Tiered;
  /** USD per request, for the few models billed per call as well. */
  perRequest: number;
  /** USD per server-side web search (OpenAI's `web_search` tool; for one request, the fee of the tools it lists: search-fees.ts). */
  perWebSearch?: number;
  /** USD per OpenAI `web_search_preview` call, when known (search-fees.ts). */
  perWebSearchPreview?: number;
  /** Input tokens billed per web search on top of the reported usage (gpt-4o-mini's and gpt-4.1-mini's `web_search`). */
  webSearchInputTokens?: number;
  /** Image input (and its cache reads) and image output, for the image models that price them apart. */
  inputImage?: Tiered;
  cacheImageRead?: Tiered;
  outputImage?: Tiered;
  /** USD per second of input audio, for the models billed by duration. */
  perAudioSecond?: number;
}

/**
 * A model's prices over time: the last period whose constraint holds at a request's time applies
 * (the catalog's rule), e.g. a price cut from a start date, or off-peak hours.
 */
export interface PricePeriod {
  /** Epoch ms from which this period applies. */
  from?: number;
  /** Seconds after UTC midnight: applies in [start, end), wrapping past midnight when end < start. */
  timeOfDay?: { start: number; end: number };
  table: PriceTable;
}

export const flat = (price: number): Tiered => ({ base: price, tiers: [] });

/** The table that applies at `ts` (the catalog's rule; the first period when none matches). */
export function priceAt(periods: readonly PricePeriod[], ts: number): PriceTable {
  return pickPeriod(periods, ts).table;
}

/** The period that applies at `ts`: the last whose constraint holds, else the first. */
export function pickPeriod<P extends Omit<PricePeriod, 'table'>>(periods: readonly P[], ts: number): P {
  if (periods.length === 1) return periods[0] as P;
  for (let i = periods.length - 1; i >= 0; i--) {
    const p = periods[i] as P;
    if (p.from === undefined && p.timeOfDay === undefined) return p;
    if (p.from !== undefined && ts >= p.from) return p;
    if (p.timeOfDay) {
      const d = new Date(ts);
      const sec =
        d.getUTCHours() * 3600 + d.getUTCMinutes() * 60 + d.getUTCSeconds() + d.getUTCMilliseconds() / 1000;
      const { start, end } = p.timeOfDay;
      if (end < start ? sec >= start || sec < end : sec >= start && sec < end) return p;
    }
  }
  return periods[0] as P;
}

function rate(t: Tiered, input: number): number {
  let price = t.base;
  for (const tier of t.tiers) if (input > tier.start) price = tier.price;
  return price;
}

const part = (t: Tiered, tokens: number, input: number): number =>
  tokens > 0 ? (rate(t, input) * tokens) / 1e6 : 0;

/**
 * USD cost of `usage` at `table`: uncached input, cache reads, 5-minute and 1-hour cache writes,
 * output and (where priced apart) reasoning and audio, each at its price, in the tier the request's total
 * input falls in. Parts reported larger than their whole are clamped, never negative.
 * `tierInput` picks the tier when `usage` is not one request (the bill check prices a day's
 * tokens of one context-window tier at once); default: the request's own input.
 */
export function costWith(usage: Usage, table: PriceTable, tierInput?: number): number {
  const input = Math.max(0, usage.inputTokens);
  const tier = tierInput ?? input;
  const read = Math.min(Math.max(0, usage.cachedTokens), input);
  const write = Math.min(Math.max(0, usage.cacheWriteTokens), input - read);
  const write1h = Math.min(Math.max(0, usage.cacheWrite1hTokens ?? 0), write);
  // Image input is part of input, its cache reads part of the cache reads (the catalog's rule).
  const imageIn = table.inputImage ? Math.min(Math.max(0, usage.inputImageTokens ?? 0), input - write) : 0;
  const imageRead = table.inputImage ? Math.min(Math.max(0, usage.cachedImageTokens ?? 0), imageIn, read) : 0;
  const { audioIn, audioRead } = audioParts(
    usage,
    table,
    input - read - write - (imageIn - imageRead),
    read - imageRead,
  );
  const output = Math.max(0, usage.outputTokens);
  const reasoning = table.outputReasoning ? Math.min(Math.max(0, usage.reasoningTokens ?? 0), output) : 0;
  const audioOut = table.outputAudio
    ? Math.min(Math.max(0, usage.outputAudioTokens ?? 0), output - reasoning)
    : 0;
  const imageOut = table.outputImage
    ? Math.min(Math.max(0, usage.outputImageTokens ?? 0), output - reasoning - audioOut)
    : 0;
  let usd =
    part(table.input, input - read - write - audioIn - (imageIn - imageRead), tier) +
    part(table.cacheRead, read - imageRead - audioRead, tier) +
    part(table.cacheAudioRead ?? table.cacheRead, audioRead, tier) +
    part(table.cacheWrite, write - write1h, tier) +
    part(table.cacheWrite1h, write1h, tier) +
    part(table.output, output - reasoning - audioOut - imageOut, tier) +
    table.perRequest;
  if (table.inputImage) usd += part(table.inputImage, imageIn - imageRead, tier);
  if (table.inputImage) usd += part(table.cacheImageRead ?? table.inputImage, imageRead, tier);
  if (table.outputImage) usd += part(table.outputImage, imageOut, tier);
  if (table.perAudioSecond) usd += Math.max(0, usage.audioSeconds ?? 0) * table.perAudioSecond;
  if (table.outputReasoning) usd += part(table.outputReasoning, reasoning, tier);
  if (table.inputAudio) usd += part(table.inputAudio, audioIn, tier);
  if (table.outputAudio) usd += part(table.outputAudio, audioOut, tier);
  if (table.perWebSearch) usd += Math.max(0, usage.webSearches ?? 0) * table.perWebSearch;
  if (table.webSearchInputTokens)
    usd += part(table.input, Math.max(0, usage.webSearches ?? 0) * table.webSearchInputTokens, tier);
  return usd;
}

/**
 * The uncached and the cached audio input of `usage`, within the uncached and cached input not
 * already counted as images. Audio counts include its cache reads (OpenAI's `audio_tokens`), and
 * where the answer says how much of the audio was cached (`cachedAudioTokens`), the rest is uncached
 * audio. Where it does not (chat completions), the uncached part is taken as large as it can be,
 * the dearest split since uncached audio costs the most, and only the audio that cannot fit there
 * is taken as cached.
 */
function audioParts(
  usage: Usage,
  table: PriceTable,
  uncached: number,
  cached: number,
): { audioIn: number; audioRead: number } {
  if (!table.inputAudio) return { audioIn: 0, audioRead: 0 };
  const audio = Math.max(0, usage.inputAudioTokens ?? 0);
  if (usage.cachedAudioTokens !== undefined) {
    const audioRead = Math.min(Math.max(0, usage.cachedAudioTokens), audio, cached);
    return { audioIn: Math.min(audio - audioRead, uncached), audioRead };
  }
  const audioIn = Math.min(audio, uncached);
  return { audioIn, audioRead: Math.min(audio - audioIn, cached) };
}

/** USD cost of `usage` on `model` at the prices that apply at `ts`. */
export function costOf(usage: Usage, model: { prices: readonly PricePeriod[] }, ts: number): number {
  return checkedUsd(
    costWith(usage, priceAt(model.prices, ts)),
    `the cost of ${usage.inputTokens} input and ${usage.outputTokens} output tokens`,
  );
}

/**
 * The most a request can cost: `inputTokens` at the dearest way input can be billed (a prompt
 * that asks for caching may be billed entirely as cache writes: 1.25 x the input price for
 * Anthropic's 5-minute cache, 2 x for a 1-hour one; an audio model's input may be all audio), and
 * `outputTokens` at the dearest output price (image output, $30 to $120 per million tokens on
 * Gemini's image models against $2.50 to $12 for text), in the tier of that input.
 */
export function maxCostOf(
  model: { prices: readonly PricePeriod[] },
  ts: number,
  tokens: { inputTokens: number; outputTokens: number; cacheWrites: CacheWrites; webSearches?: number },
): number {
  const t = priceAt(model.prices, ts);
  const input = Math.max(0, tokens.inputTokens);
  let inputRate = rate(t.input, input);
  if (tokens.cacheWrites !== 'none') inputRate = Math.max(inputRate, rate(t.cacheWrite, input));
  if (tokens.cacheWrites === '1h') inputRate = Math.max(inputRate, rate(t.cacheWrite1h, input));
  // An audio model's input and output may be all audio.
  if (t.inputAudio) inputRate = Math.max(inputRate, rate(t.inputAudio, input));
  // Output may be all reasoning, all audio or, on a model that draws (Gemini's image models), all image.
  let outputRate = rate(t.output, input);
  for (const other of [t.outputReasoning, t.outputAudio, t.outputImage])
    if (other) outputRate = Math.max(outputRate, rate(other, input));
  const allowed = Math.max(0, tokens.webSearches ?? 0);
  // Each search may be billed a fixed block of input tokens too, at the input price of the input it joins.
  const block = allowed * (t.webSearchInputTokens ?? 0);
  const searches = allowed * (t.perWebSearch ?? 0) + (block * rate(t.input, input + block)) / 1e6;
  return checkedUsd(
    (inputRate * input + outputRate * Math.max(0, tokens.outputTokens)) / 1e6 + t.perRequest + searches,
    `the most ${tokens.inputTokens} input and ${tokens.outputTokens} output tokens can cost`,
  );
}

/** What a request body asks of the prompt cache: nothing, writes, or writes kept for an hour. */
export type CacheWrites = 'none' | '5m' | '1h';

/**
 * Read from the raw bytes, without walking the JSON: `cache_control` anywhere asks for writes
 * (Anthropic's blocks and its top-level automatic caching), `"1h"` anywhere may be a 1-hour TTL.
 * `cachesUnmarked`: the API caches a prompt with no marker at all (OpenAI's chat and Responses,
 * which report the writes as `cache_write_tokens`, billed at 1.25 x input from GPT-5.6 on), so
 * any request may be billed as writes. A false positive only reserves more, and settling charges
 * the real cost.
 */
export function cacheWritesOf(body: Buffer, cachesUnmarked = false): CacheWrites {
  if (!body.includes('cache_control')) return cachesUnmarked ? '5m' : 'none';
  return body.includes('"1h"') ? '1h' : '5m';
}
