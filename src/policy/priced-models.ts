import type { ModelConfig } from '../config/types.js';
import type { RouteKind } from '../metering/route-kind.js';
import { billsAudioApart, UNPRICED_AUDIO_SNAPSHOT } from '../pricing/audio-prices.js';
import { priceAt } from '../pricing/pricing.js';

/**
 * Models whose bill has a part a token route cannot price or count, refused before anything is
 * reserved or forwarded (docs/api.md#image-output, docs/api.md#search-models): a budget must be a
 * true upper bound, so a part with no price or no bound is not guessed at.
 */

/**
 * Models that draw images in a chat answer: Gemini's image models (`gemini-2.5-flash-image`,
 * `gemini-3-pro-image-preview`, `gemini-2.0-flash-preview-image-generation`) and OpenAI's
 * `gpt-5-image` family as relays serve them, with or without a `google/` or `openai/` prefix.
 */
const IMAGE_OUTPUT_NAME = /(^|[/:])(gemini-[\w.-]*-image|gpt-[\d.]+-image)/i;

/**
 * OpenAI's search models on chat completions (`gpt-4o-search-preview`,
 * `gpt-4o-mini-search-preview`, `gpt-5-search-api`): every request searches the web, billed per
 * search on top of the tokens, and may run several searches; chat completions has no
 * `max_tool_calls` to bound them and its `usage` does not count them.
 */
const SEARCH_MODEL_NAME = /(^|[/:])gpt-[\w.-]*-search-(preview|api)/i;

/**
 * Perplexity's deep research (`sonar-deep-research`, `perplexity/sonar-deep-research` on
 * OpenRouter): each request runs as many web searches ($5 per 1,000) and as many reasoning ($3 per
 * million) and citation tokens ($2 per million) as the model decides, billed on top of its input
 * and output; no request field bounds them, so no reservation could hold. The same for its Pro
 * Search, multi-step and billed at fees of its own: OpenRouter's `perplexity/sonar-pro-search`, and
 * `web_search_options.search_type` "pro" or "auto" (ExtrasAsked.proSearch).
 */
const DEEP_RESEARCH_NAME = /(^|[/:])sonar-(deep-research|pro-search)/i;

/**
 * What a request asks for that is billed apart from its text tokens: audio input (`input_audio`
 * parts), audio output (`modalities: ["audio"]`), and what turns on OpenRouter's web search
 * (`webPlugin`: the web plugin; `webSearchOptions`: `web_search_options`, which other upstreams
 * read as their own: Perplexity's search context size, billed in its request fee).
 */
export interface ExtrasAsked {
  input: boolean;
  output: boolean;
  webPlugin?: boolean;
  webSearchOptions?: boolean;
  /** Perplexity's Pro Search: `web_search_options.search_type` "pro" or "auto". */
  proSearch?: boolean;
}

const MAX_DEPTH = 32;

function hasInputAudio(value: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => hasInputAudio(v, depth + 1));
  const o = value as Record<string, unknown>;
  if (o.type === 'input_audio') return true;
  for (const key in o) if (hasInputAudio(o[key], depth + 1)) return true;
  return false;
}

const isWebPlugin = (p: unknown): boolean =>
  p !== null && typeof p === 'object' && (p as Record<string, unknown>).id === 'web';

/** What a chat or Responses body asks for apart from text (the raw bytes checked first, to skip the walk). */
export function extrasAsked(raw: Buffer, fields: Record<string, unknown>): ExtrasAsked {
  const modalities = fields.modalities;
  const plugins = fields.plugins;
  const options = fields.web_search_options;
  const searchType =
    options !== null && typeof options === 'object'
      ? (options as Record<string, unknown>).search_type
      : undefined;
  return {
    proSearch: searchType === 'pro' || searchType === 'auto',
    input: raw.includes('input_audio') && hasInputAudio(fields, 0),
    output: Array.isArray(modalities) && modalities.includes('audio'),
    webPlugin: Array.isArray(plugins) && plugins.some(isWebPlugin),
    webSearchOptions: fields.web_search_options !== undefined && fields.web_search_options !== null,
  };
}

/** OpenRouter's `:online` models: the web plugin by another name (`openai/gpt-4o:online`). */
const ONLINE_MODEL = /:online(:|$)/i;

/**
 * Whether the request turns on OpenRouter's web search on an upstream of `provider`: on OpenRouter
 * by the web plugin, `web_search_options` or a `:online` model; on an upstream of no known provider
 * (maybe a relay in front of OpenRouter) by the plugin or a `:online` model, OpenRouter's own
 * spellings. `web_search_options` elsewhere is the upstream's own (OpenAI's search models, refused
 * by name; Perplexity's context size, whose request fee the catalog prices at the dearest size).
 */
function asksOpenRouterSearch(extras: ExtrasAsked, names: string[], provider: string | undefined): boolean {
  if (provider !== undefined && provider !== 'openrouter') return false;
  if (extras.webPlugin || names.some((n) => ONLINE_MODEL.test(n))) return true;
  return provider === 'openrouter' && extras.webSearchOptions === true;
}

const namesOf = (model: ModelConfig, requested: string | undefined): string[] =>
  [model.name, requested ?? '', model.catalogId ?? ''].filter((n) => n !== '');

/**
 * Why `model` cannot be metered on `route`, or undefined when it can: the sentence after "model 'X' ".
 * - A model that prices image output apart is metered on chat completions only, whose usage reports
 *   `completion_tokens_details.image_tokens`; a model named as an image model with no image output
 *   price (a relay's catalog entry carries text prices only) is refused unless keys.yaml sets its
 *   `output_per_mtok`.
 * - A search model, and Perplexity's deep research, is refused on every route.
 * - A Responses or Messages request that may run web searches (`webSearches`) on a model with no
 *   per-search price (OpenAI and Anthropic bill every search) is refused.
 * - OpenRouter's web search (asksOpenRouterSearch) is refused: neither counted nor bounded.
 * - Audio in or out (`extras`) of a model with no audio price for it is refused where the provider
 *   bills audio apart from text (`provider`: the upstream's catalog provider).
 */
export function unpricedPart(
  model: ModelConfig,
  requested: string | undefined,
  route: RouteKind,
  webSearches: number,
  ts: number,
  extras: ExtrasAsked = { input: false, output: false },
  provider?: string,
): string | undefined {
  const names = namesOf(model, requested);
  if (asksOpenRouterSearch(extras, names, provider))
    return "asks for OpenRouter's web search (the web plugin, web_search_options or a :online model), billed apart from the tokens ($4 per 1,000 Exa results, or the model provider's own search price), which the answer's usage does not count and the request does not bound (docs/api.md#hosted-tools). Send it without web search, or use a web_search tool on /v1/responses or /v1/messages, which are metered";
  const audioWhy = unpricedAudio(model, names, extras, ts, provider);
  if (audioWhy !== undefined) return audioWhy;
  if (extras.proSearch)
    return 'asks for Perplexity\'s Pro Search (web_search_options.search_type "pro" or "auto"): a multi-step search billed at fees of its own that the request does not bound (docs/api.md#search-models). Send it with search_type "fast" or without it';
  if (names.some((n) => DEEP_RESEARCH_NAME.test(n)))
    return "is Perplexity's deep research or Pro Search: it runs as many web searches (and reasoning and citation tokens) as it decides, billed on top of the input and output tokens, and no request field bounds them (docs/api.md#search-models). Use sonar-pro or sonar-reasoning-pro, whose answers are bounded by max_tokens";
  if (names.some((n) => SEARCH_MODEL_NAME.test(n)))
    return 'is a search model: OpenAI bills every web search it runs on top of the tokens, and chat completions neither reports nor bounds how many it runs (docs/api.md#search-models). Use a model with the web_search tool on /v1/responses, which max_tool_calls bounds';
  const table = priceAt(model.prices, ts);
  const drawsImages = table.outputImage !== undefined || names.some((n) => IMAGE_OUTPUT_NAME.test(n));
  if (drawsImages && route !== 'chat')
    return 'draws images, billed at an image output price only /v1/chat/completions reports the tokens of (docs/api.md#image-output). Send it there';
  if (drawsImages && table.outputImage === undefined && model.explicit.output === undefined)
    return "draws images, and the price catalog has no image output price for it (docs/api.md#image-output). Set its output_per_mtok in keys.yaml to the provider's image output price";
  if ((route === 'responses' || route === 'messages') && webSearches > 0 && table.perWebSearch === undefined)
    return 'has no per-search price, and the request may run web searches the provider bills per call (docs/api.md#hosted-tools). Send it without the web search tool';
  return undefined;
}

/**
 * Audio the model has no audio price for, where its provider bills audio apart: OpenAI bills audio
 * tokens at an audio price (8 to 66 x its text price on the gpt-4o audio models), Gemini's Flash
 * models at 3 to 7 x, so audio in or out of such a model priced for text alone (a catalog entry
 * without audio prices, a keys.yaml price, a snapshot whose audio price is unknown) would be held
 * and charged far under the bill (docs/api.md#audio-prices). Where audio is billed at the text
 * price (Gemini's Pro models, a self-hosted model) it is served at that price.
 */
function unpricedAudio(
  model: ModelConfig,
  names: string[],
  audio: ExtrasAsked,
  ts: number,
  provider: string | undefined,
): string | undefined {
  if (!audio.input && !audio.output) return undefined;
  const snapshot = names.some((n) => UNPRICED_AUDIO_SNAPSHOT.test(n));
  if (!snapshot && !billsAudioApart(provider, names)) return undefined;
  const table = priceAt(model.prices, ts);
  const priced =
    !snapshot &&
    (!audio.input || table.inputAudio !== undefined) &&
    (!audio.output || table.outputAudio !== undefined);
  if (priced) return undefined;
  const what = audio.input ? (audio.output ? 'audio input and output' : 'audio input') : 'audio output';
  return `has no audio price for the ${what} this request asks for: the provider bills audio tokens at an audio price, far above the text price tollgate has for it (docs/api.md#audio-prices). Send the request without audio, or use a model whose audio is priced`;
}
