/**
 * Per-call web search fees a provider bills that the price catalog does not list for the model
 * (docs/api.md#hosted-tools). OpenAI bills each web search call of its o-series reasoning models
 * at $10 per 1,000 calls on top of the tokens (its pricing page: "Web search preview (reasoning
 * models, including gpt-5, o-series): $10.00 / 1k calls"), deep research among them; the catalog
 * prices o3-deep-research and o4-mini-deep-research by tokens only. The fee is filled in where the
 * catalog has none, so the reservation holds every search the request allows (`max_tool_calls`)
 * and each `web_search_call` of the answer is charged.
 */
const FEES: ReadonlyArray<{ provider: string; id: RegExp; usd: number }> = [
  { provider: 'openai', id: /^o\d+(-mini)?-deep-research$/, usd: 10 / 1000 },
];

/** The USD per web search call of a catalog model the catalog gives no search price, if known. */
export function searchFeeOf(catalog: { id: string; providerId: string }): number | undefined {
  return FEES.find((f) => f.provider === catalog.providerId && f.id.test(catalog.id))?.usd;
}
