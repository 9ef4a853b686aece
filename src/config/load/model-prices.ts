import { audioPricesOf } from '../../pricing/audio-prices.js';
import { isClaudeModel } from '../../pricing/cache-ttl.js';
import { type CatalogModel, type CatalogPrices, lookupCatalog } from '../../pricing/catalog.js';
import { flat, type PricePeriod, type PriceTable, pickPeriod, type Tiered } from '../../pricing/pricing.js';
import { ANTHROPIC_SEARCH_USD, billsAnthropicSearches, searchFeesOf } from '../../pricing/search-fees.js';
import type { ModelSection } from '../types.gen.js';
import type { ExplicitPrices, ModelConfig, PriceSource, UnitPrices, UpstreamConfig } from '../types.js';

/**
 * A model entry's prices, resolved once when the config is loaded: each explicit keys.yaml price over the
 * catalog's price of the same kind, and for a model the catalog does not know, the defaults
 * (docs/configuration.md#prices-and-the-catalog: cache reads at the input price; cache writes at 1.25 x
 * input, 1-hour ones at 2 x, on anthropic-format upstreams, else at the input price).
 */

/** Written into a request that sets no output limit when keys.yaml and the catalog give none. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 16_384;

/** Anthropic's cache-write multipliers on the input price (5-minute and 1-hour TTL). */
const ANTHROPIC_WRITE = 1.25;
const ANTHROPIC_WRITE_1H = 2;

export function explicitPrices(raw: ModelSection): ExplicitPrices {
  const out: ExplicitPrices = {};
  if (raw.input_per_mtok !== undefined) out.input = raw.input_per_mtok;
  if (raw.output_per_mtok !== undefined) out.output = raw.output_per_mtok;
  if (raw.cached_input_per_mtok !== undefined) out.cachedInput = raw.cached_input_per_mtok;
  if (raw.cache_write_per_mtok !== undefined) out.cacheWrite = raw.cache_write_per_mtok;
  if (raw.input_audio_per_mtok !== undefined) out.inputAudio = raw.input_audio_per_mtok;
  if (raw.output_audio_per_mtok !== undefined) out.outputAudio = raw.output_audio_per_mtok;
  return out;
}

/** The unit prices of an image or audio model (docs/api.md#images-and-audio), each winning over the catalog's for its route. */
export function unitPrices(raw: ModelSection): UnitPrices | undefined {
  const out: UnitPrices = {};
  if (raw.image_usd !== undefined) out.imageUsd = raw.image_usd as number | Record<string, number>;
  if (raw.input_per_mchar !== undefined) out.inputPerMchar = raw.input_per_mchar;
  if (raw.audio_per_minute !== undefined) out.audioPerMinute = raw.audio_per_minute;
  return Object.keys(out).length > 0 ? out : undefined;
}

export const isGlobName = (name: string): boolean => name.includes('*') || name.includes('?');

const scaled = (t: Tiered, by: number): Tiered => ({
  base: t.base * by,
  tiers: t.tiers.map((x) => ({ start: x.start, price: x.price * by })),
});

/**
 * One period's table: explicit prices over the catalog's, kinds the catalog leaves out billed as their
 * parent, except a Claude model's 1-hour cache writes (`claude`), which Anthropic bills at 2 x input
 * wherever the model is served, where the catalog (OpenRouter's entries) lists only the 5-minute price.
 */
function tableOf(e: ExplicitPrices, c: CatalogPrices, claude: boolean): PriceTable {
  const input = e.input !== undefined ? flat(e.input) : c.input;
  const cacheWrite = e.cacheWrite !== undefined ? flat(e.cacheWrite) : (c.cacheWrite ?? input);
  const write1h = c.cacheWrite1h ?? (claude && c.cacheWrite ? scaled(input, ANTHROPIC_WRITE_1H) : cacheWrite);
  const table: PriceTable = {
    input,
    cacheRead: e.cachedInput !== undefined ? flat(e.cachedInput) : (c.cacheRead ?? input),
    cacheWrite,
    cacheWrite1h: e.cacheWrite !== undefined ? cacheWrite : write1h,
    output: e.output !== undefined ? flat(e.output) : c.output,
    perRequest: c.perRequest,
  };
  // An explicit output price covers reasoning tokens too; audio keeps the catalog's price.
  if (e.output === undefined && c.outputReasoning) table.outputReasoning = c.outputReasoning;
  if (c.inputAudio) table.inputAudio = c.inputAudio;
  if (c.outputAudio) table.outputAudio = c.outputAudio;
  if (c.cacheAudioRead) table.cacheAudioRead = c.cacheAudioRead;
  if (c.perWebSearch) table.perWebSearch = c.perWebSearch;
  if (c.inputImage) table.inputImage = c.inputImage;
  if (c.cacheImageRead) table.cacheImageRead = c.cacheImageRead;
  if (c.outputImage) table.outputImage = c.outputImage;
  if (c.perAudioSecond) table.perAudioSecond = c.perAudioSecond;
  return table;
}

/** keys.yaml's audio prices over the table's (docs/api.md#audio-prices). */
function withAudio(table: PriceTable, e: ExplicitPrices): PriceTable {
  if (e.inputAudio !== undefined) table.inputAudio = flat(e.inputAudio);
  if (e.outputAudio !== undefined) table.outputAudio = flat(e.outputAudio);
  return table;
}

/** The table of a model the catalog does not know: explicit prices and the documented defaults. */
function ownTable(e: ExplicitPrices, anthropic: boolean): PriceTable | undefined {
  if (e.input === undefined || e.output === undefined) return undefined;
  const input = flat(e.input);
  return withAudio(
    {
      input,
      cacheRead: e.cachedInput !== undefined ? flat(e.cachedInput) : input,
      cacheWrite: flat(e.cacheWrite ?? (anthropic ? e.input * ANTHROPIC_WRITE : e.input)),
      cacheWrite1h:
        e.cacheWrite !== undefined
          ? flat(e.cacheWrite)
          : anthropic
            ? scaled(input, ANTHROPIC_WRITE_1H)
            : input,
      output: flat(e.output),
      perRequest: 0,
    },
    e,
  );
}

/**
 * The ModelConfig for `name` served through entry `raw`: prices from the explicit fields over the
 * catalog's for `catalog` (the model the name resolves to there, if any). Without a catalog entry
 * and without both input and output prices, `prices` is empty: validate refuses that model.
 */
export function buildModel(
  name: string,
  raw: ModelSection,
  upstream: UpstreamConfig | undefined,
  catalog: CatalogModel | undefined,
  now: number,
): ModelConfig {
  const explicit = explicitPrices(raw);
  const anthropic = upstream?.format === 'anthropic';
  let prices: PricePeriod[] = [];
  if (catalog) {
    prices = catalog.periods.map((p) => {
      // Search fees the catalog leaves out: deep research's, web_search_preview's, a fixed input block.
      const period: PricePeriod = {
        // keys.yaml's audio prices win over those the catalog leaves out (gpt-4o-audio-preview's).
        table: withAudio(
          {
            ...tableOf(explicit, p.prices, isClaudeModel(catalog.id)),
            ...searchFeesOf(catalog, p.prices.perWebSearch, [name]),
            ...audioPricesOf(catalog, p.prices),
          },
          explicit,
        ),
      };
      if (p.from !== undefined) period.from = p.from;
      if (p.timeOfDay) period.timeOfDay = p.timeOfDay;
      return period;
    });
  } else {
    const table = ownTable(explicit, anthropic);
    if (table) prices = [{ table }];
  }
  // Anthropic bills every search $10 per 1,000 where the catalog lists no fee (search-fees.ts).
  if (billsAnthropicSearches(catalog?.providerId, upstream))
    for (const p of prices) p.table.perWebSearch ??= ANTHROPIC_SEARCH_USD;
  // The period in force at load time, for the prices shown (metering picks one per request).
  const shown = prices.length > 0 ? pickPeriod(prices, now).table : undefined;
  const current = catalog ? pickPeriod(catalog.periods, now) : undefined;
  const source = (own: number | undefined, fromCatalog: unknown): PriceSource =>
    own !== undefined ? 'keys.yaml' : catalog && fromCatalog !== undefined ? 'catalog' : 'default';
  const model: ModelConfig = {
    name,
    upstream: raw.upstream,
    glob: false,
    prices,
    explicit,
    inputPerMtok: shown?.input.base ?? explicit.input ?? 0,
    outputPerMtok: shown?.output.base ?? explicit.output ?? 0,
    cachedInputPerMtok: shown?.cacheRead.base ?? 0,
    cacheWritePerMtok: shown?.cacheWrite.base ?? 0,
    priceSources: {
      input: source(explicit.input, catalog),
      output: source(explicit.output, catalog),
      cachedInput: source(explicit.cachedInput, current?.prices.cacheRead),
      cacheWrite: source(explicit.cacheWrite, current?.prices.cacheWrite),
    },
    maxOutputTokens: raw.max_output_tokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
  };
  if (catalog) model.catalogId = catalog.id;
  const units = unitPrices(raw);
  if (units) model.units = units;
  if (raw.context_window !== undefined) {
    model.contextWindow = raw.context_window;
    model.contextWindowSource = 'keys.yaml';
  } else if (catalog?.contextWindow !== undefined) {
    model.contextWindow = catalog.contextWindow;
    model.contextWindowSource = 'catalog';
  }
  return model;
}

/** A configured entry: a glob entry keeps no prices (each name it serves is priced when asked for). */
export function buildEntry(
  name: string,
  raw: ModelSection,
  upstream: UpstreamConfig | undefined,
  now: number,
): ModelConfig {
  if (isGlobName(name)) {
    const model = buildModel(name, raw, upstream, undefined, now);
    return { ...model, glob: true, prices: [] };
  }
  return buildModel(name, raw, upstream, lookupCatalog(name, upstream?.provider), now);
}
