import type { PricePeriod, PriceTable } from './pricing.js';

/**
 * Per-call web search fees a provider bills that the price catalog does not carry, and how they
 * depend on the model and on which of OpenAI's two Responses tools runs the search
 * (docs/api.md#hosted-tools). OpenAI's pricing page ("Built-in tools"):
 *
 * - `web_search` (all models): $10 per 1,000 calls, search content tokens billed at model rates;
 *   on gpt-4o-mini and gpt-4.1-mini the search content is billed as a fixed block of 8,000 input
 *   tokens per call;
 * - `web_search_preview` on reasoning models (gpt-5, o-series): $10 per 1,000 calls, search
 *   content tokens billed at model rates;
 * - `web_search_preview` on non-reasoning models (gpt-4o, gpt-4.1 and their minis): $25 per 1,000
 *   calls, search content tokens free.
 *
 * The catalog lists one $10 price per model (`web_search`'s), and none for deep research
 * (o3-deep-research, o4-mini-deep-research, o-series models billed as such). A model whose family
 * is not known here keeps the catalog's price for `web_search` and has no `web_search_preview`
 * price, so a request that lists that tool on it is refused rather than guessed.
 */

const OPENAI_REASONING = /^(o\d|gpt-5)/;
const OPENAI_NON_REASONING = /^gpt-4(o|\.1)(-mini)?$/;
/** The models whose `web_search` content is billed as a fixed block of input tokens per call. */
const OPENAI_FIXED_BLOCK = /^gpt-4(o|\.1)-mini$/;
const DEEP_RESEARCH = /^o\d+(-mini)?-deep-research$/;

/** OpenAI's fees: `web_search` and reasoning models' `web_search_preview`, and non-reasoning models' `web_search_preview`. */
export const OPENAI_SEARCH_USD = 10 / 1000;
export const OPENAI_PREVIEW_SEARCH_USD = 25 / 1000;
/** Input tokens OpenAI bills per `web_search` call on gpt-4o-mini and gpt-4.1-mini. */
export const OPENAI_FIXED_SEARCH_TOKENS = 8_000;

/**
 * Anthropic's web search fee, the same on every model that has the tool: $10 per 1,000 searches
 * (Anthropic's pricing page, "Web search"; its web search tool docs: each `web_search_requests`
 * counted in `usage.server_tool_use`), search results billed as input tokens. The catalog lists it
 * on most Claude models but not on all (claude-3-haiku, claude-3-opus), and not on a model it does
 * not know (one priced in keys.yaml), where searches were charged $0.
 */
export const ANTHROPIC_SEARCH_USD = 10 / 1000;

/**
 * Whether a model's web searches are billed at ANTHROPIC_SEARCH_USD: the catalog prices it as one
 * of Anthropic's (`catalogProvider`), or, for a model the catalog does not know, its upstream is
 * Anthropic's API (its provider, or Anthropic's format with no other provider recognised: a relay
 * in front of Anthropic). A model of another provider keeps the catalog's fee or has none, and a
 * Messages request that may search on it is refused (policy/priced-models.ts).
 */
export function billsAnthropicSearches(
  catalogProvider: string | undefined,
  upstream: { provider?: string; format: string } | undefined,
): boolean {
  if (catalogProvider !== undefined) return catalogProvider === 'anthropic';
  if (upstream === undefined) return false;
  return (
    upstream.provider === 'anthropic' || (upstream.provider === undefined && upstream.format === 'anthropic')
  );
}

export interface SearchFees {
  /** USD per `web_search` call, where the catalog has none. */
  perWebSearch?: number;
  /** USD per `web_search_preview` call. */
  perWebSearchPreview?: number;
  /** Input tokens billed per `web_search` call on top of the usage the answer reports. */
  webSearchInputTokens?: number;
}

/**
 * The search fees of a catalog model, beside the catalog's own per-search price (`catalogFee`,
 * which is `web_search`'s). `names`: the names it is served under; a `-chat` one (gpt-5-chat-latest,
 * which the catalog prices as gpt-5) is not a reasoning model, so its preview fee is not known.
 */
export function searchFeesOf(
  catalog: { id: string; providerId: string },
  catalogFee: number | undefined,
  names: readonly string[],
): SearchFees {
  if (catalog.providerId !== 'openai') return {};
  const fees: SearchFees = {};
  const perCall = catalogFee ?? (DEEP_RESEARCH.test(catalog.id) ? OPENAI_SEARCH_USD : undefined);
  if (catalogFee === undefined && perCall !== undefined) fees.perWebSearch = perCall;
  const chat = [catalog.id, ...names].some((n) => /-chat/.test(n));
  if (OPENAI_NON_REASONING.test(catalog.id) && !chat) {
    fees.perWebSearchPreview = OPENAI_PREVIEW_SEARCH_USD;
    if (OPENAI_FIXED_BLOCK.test(catalog.id)) fees.webSearchInputTokens = OPENAI_FIXED_SEARCH_TOKENS;
  } else if (OPENAI_REASONING.test(catalog.id) && !chat && perCall !== undefined)
    fees.perWebSearchPreview = perCall;
  return fees;
}

/** Which web search tools a request lists: OpenAI's `web_search` (and Anthropic's), and `web_search_preview`. */
export interface WebSearchTools {
  search: boolean;
  preview: boolean;
}

/**
 * The table a request with these web search tools is held and charged at: `perWebSearch` is the
 * fee of the dearest tool it lists (undefined when one of them has no price: the request is
 * refused), and the fixed input block of `web_search` only when it lists that tool. A request
 * that lists both is held and charged the dearer fee and the block for each call, since an
 * answer's `web_search_call` does not say which tool ran it.
 */
function searchTable(t: PriceTable, tools: WebSearchTools): PriceTable {
  const fees: Array<number | undefined> = [];
  if (tools.search) fees.push(t.perWebSearch);
  if (tools.preview) fees.push(t.perWebSearchPreview);
  const { perWebSearch: _fee, perWebSearchPreview: _preview, webSearchInputTokens: block, ...rest } = t;
  const out: PriceTable = rest;
  if (fees.length > 0 && fees.every((f) => f !== undefined))
    out.perWebSearch = Math.max(...(fees as number[]));
  if (tools.search && block !== undefined) out.webSearchInputTokens = block;
  return out;
}

/** A model's prices for a request that lists these web search tools (none listed: as it is). */
export function searchPrices<M extends { prices: readonly PricePeriod[] }>(
  model: M,
  tools: WebSearchTools,
): M {
  if (!tools.search && !tools.preview) return model;
  return { ...model, prices: model.prices.map((p) => ({ ...p, table: searchTable(p.table, tools) })) };
}
