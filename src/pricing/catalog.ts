import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { calcPrice, findProvider, type ModelInfo, type ModelPrice } from '@pydantic/genai-prices';
import { flat, type PricePeriod, type Tiered } from './pricing.js';

/**
 * The bundled price catalog: @pydantic/genai-prices at the version the lockfile pins. Its data
 * ships inside the package and is never updated at run time (the package only fetches when
 * `updatePrices` is called, which tollgate never does): upgrading prices is `npm update
 * @pydantic/genai-prices` and a pull request, like any dependency. Lookups happen when a config
 * is loaded (and once per new client model name behind a glob), never per request.
 */

const PACKAGE = '@pydantic/genai-prices';

/** The catalog's package name and version, e.g. `@pydantic/genai-prices 0.1.8`. */
export const CATALOG_VERSION = readVersion();

function readVersion(): string {
  try {
    // The package exports no package.json; find it next to its entry point.
    const entry = createRequire(import.meta.url).resolve(PACKAGE);
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return `${PACKAGE} ${pkg.version ?? 'unknown'}`;
  } catch {
    return `${PACKAGE} unknown`;
  }
}

/** A model's catalog prices in one period; a kind left out is billed as its parent (input, cache write). */
export interface CatalogPrices {
  input: Tiered;
  output: Tiered;
  cacheRead?: Tiered;
  cacheWrite?: Tiered;
  cacheWrite1h?: Tiered;
  outputReasoning?: Tiered;
  inputAudio?: Tiered;
  outputAudio?: Tiered;
  cacheAudioRead?: Tiered;
  perRequest: number;
  perWebSearch?: number;
  inputImage?: Tiered;
  cacheImageRead?: Tiered;
  outputImage?: Tiered;
  perAudioSecond?: number;
}

export type CatalogPeriod = Omit<PricePeriod, 'table'> & { prices: CatalogPrices };

/** A model the catalog prices. */
export interface CatalogModel {
  /** The catalog's id for it, e.g. `claude-sonnet-4-5` for `claude-sonnet-4-5-20250929`. */
  id: string;
  providerId: string;
  periods: CatalogPeriod[];
  /** Tokens the model reads and writes in one request, when the catalog knows it. */
  contextWindow?: number;
}

/** The catalog provider of an upstream: its `provider`, else the one whose API URL `baseUrl` is. */
export function providerOf(upstream: { provider?: string; baseUrl: string }): string | undefined {
  if (upstream.provider !== undefined) return upstream.provider;
  // OpenAI's data-residency endpoints (eu.api.openai.com, us.api.openai.com), which the catalog's
  // own match (api.openai.com) misses.
  if (isOpenAIRegional(upstream.baseUrl)) return 'openai';
  try {
    return findProvider({ providerApiUrl: upstream.baseUrl })?.id;
  } catch {
    return undefined;
  }
}

function isOpenAIRegional(baseUrl: string): boolean {
  try {
    const url = new URL(baseUrl);
    return url.protocol === 'https:' && /^[a-z0-9-]+\.api\.openai\.com\.?$/i.test(url.hostname);
  } catch {
    return false;
  }
}

/** Whether the catalog has a provider of this id. */
export function isCatalogProvider(id: string): boolean {
  return findProvider({ providerId: id }) !== undefined;
}

/**
 * The catalog's prices for a model name, looked up with the provider when one is known and else (or when that
 * provider does not list it) by the name alone (docs/configuration.md#prices-and-the-catalog). Dated
 * snapshots resolve to their model (`gpt-4o-2024-08-06` → `gpt-4o`), as the catalog's own matching does.
 */
export function lookupCatalog(name: string, providerId: string | undefined): CatalogModel | undefined {
  const found = (providerId ? find(name, providerId) : undefined) ?? find(name, undefined);
  if (!found) return undefined;
  const periods = compilePrices(found.model);
  if (!periods) return undefined;
  const model: CatalogModel = { id: found.model.id, providerId: found.providerId, periods };
  const window = found.model.context_window;
  if (typeof window === 'number' && Number.isSafeInteger(window) && window > 0) model.contextWindow = window;
  return model;
}

function find(name: string, providerId: string | undefined) {
  try {
    const r = calcPrice({ input_tokens: 0, output_tokens: 0 }, name, providerId ? { providerId } : {});
    return r ? { model: r.model, providerId: r.provider.id } : undefined;
  } catch {
    return undefined;
  }
}

/** The catalog's models of a provider (for what a glob entry serves), deprecated ones left out. */
export function catalogModelIds(providerId: string): string[] {
  const provider = findProvider({ providerId });
  return (provider?.models ?? []).filter((m) => m.deprecated !== true).map((m) => m.id);
}

/** The provider whose models' names a glob's literal prefix looks like (`claude-*` → anthropic). */
export function providerForName(name: string): string | undefined {
  try {
    return findProvider({ modelId: name })?.id;
  } catch {
    return undefined;
  }
}

/** A model's catalog prices by period; undefined when it has no token prices. */
function compilePrices(model: ModelInfo): CatalogPeriod[] | undefined {
  const raw = Array.isArray(model.prices) ? model.prices : [{ prices: model.prices }];
  const periods: CatalogPeriod[] = [];
  for (const c of raw) {
    const prices = toPrices(c.prices, model.id);
    if (!prices) return undefined;
    const period: CatalogPeriod = { prices };
    const k = c.constraint;
    if (k?.type === 'start_date') period.from = Date.parse(`${k.start_date}T00:00:00Z`);
    else if (k?.type === 'time_of_date')
      period.timeOfDay = { start: secondsOfDay(k.start_time), end: secondsOfDay(k.end_time) };
    periods.push(period);
  }
  return periods.length > 0 ? periods : undefined;
}

function tiered(v: ModelPrice[string]): Tiered | undefined {
  if (typeof v === 'number') return flat(v);
  if (v && typeof v === 'object')
    return { base: v.base, tiers: [...v.tiers].sort((a, b) => a.start - b.start) };
  return undefined;
}

/** The catalog's id of OpenAI's moderation models, which it lists with no prices: they are free. */
const FREE_MODERATION = 'moderation';

function toPrices(p: ModelPrice, id: string): CatalogPrices | undefined {
  const audioHours = typeof p.audio_hours === 'number' ? p.audio_hours : undefined;
  // A model billed by audio duration alone (whisper-1) has no token price; it bills no tokens.
  const input =
    tiered(p.input_mtok) ?? (audioHours !== undefined || id === FREE_MODERATION ? flat(0) : undefined);
  if (!input) return undefined;
  // Embedding models have no output price: their output is free, as calcPrice bills it.
  const output = tiered(p.output_mtok) ?? flat(0);
  const prices: CatalogPrices = {
    input,
    output,
    perRequest: typeof p.requests_kcount === 'number' ? p.requests_kcount / 1000 : 0,
  };
  const cacheRead = tiered(p.cache_read_mtok);
  const cacheWrite = tiered(p.cache_write_mtok);
  const cacheWrite1h = tiered(p.cache_write_1h_mtok);
  const outputReasoning = tiered(p.output_reasoning_mtok);
  if (cacheRead) prices.cacheRead = cacheRead;
  if (cacheWrite) prices.cacheWrite = cacheWrite;
  if (cacheWrite1h) prices.cacheWrite1h = cacheWrite1h;
  if (outputReasoning) prices.outputReasoning = outputReasoning;
  const inputAudio = tiered(p.input_audio_mtok);
  const outputAudio = tiered(p.output_audio_mtok);
  if (inputAudio) prices.inputAudio = inputAudio;
  if (outputAudio) prices.outputAudio = outputAudio;
  const cacheAudioRead = tiered(p.cache_audio_read_mtok);
  if (cacheAudioRead) prices.cacheAudioRead = cacheAudioRead;
  if (typeof p.web_searches_kcount === 'number') prices.perWebSearch = p.web_searches_kcount / 1000;
  const inputImage = tiered(p.input_image_mtok);
  const cacheImageRead = tiered(p.cache_image_read_mtok);
  const outputImage = tiered(p.output_image_mtok);
  if (inputImage) prices.inputImage = inputImage;
  if (cacheImageRead) prices.cacheImageRead = cacheImageRead;
  if (outputImage) prices.outputImage = outputImage;
  if (audioHours !== undefined) prices.perAudioSecond = audioHours / 3600;
  return prices;
}

/** `HH:MM:SS[.fff](Z|±HH:MM)` → seconds after UTC midnight. */
function secondsOfDay(time: string): number {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/.exec(time);
  if (!m) return 0;
  const local = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(`0.${m[4] ?? ''}`);
  const offset = m[5] === 'Z' ? 0 : (m[6] === '+' ? 1 : -1) * (Number(m[7]) * 60 + Number(m[8])) * 60;
  return (local - offset + 86400) % 86400;
}
