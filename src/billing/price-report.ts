import type { BillingConfig, Config, ModelConfig } from '../config/types.js';
import { resolveModelName } from '../policy/model-names.js';
import { costWith, priceAt } from '../pricing/pricing.js';
import { US_INFERENCE_UPLIFT, upliftPrices } from '../pricing/uplift.js';
import { addTokens, NO_TOKENS, type ProviderReport, type ProviderUsage, type TokenCounts } from './types.js';

/**
 * The provider's report folded into the models tollgate records (a dated id such as
 * claude-sonnet-4-5-20250929 becomes the entry the gateway resolves it to, exactly as a request
 * would), and priced with the prices the gateway meters with.
 */

/** The provider's side of one model for the day. */
export interface BilledModel {
  /** The entry's name (as usage records name it), or the provider's id when tollgate serves no such model. */
  model: string;
  /** The key's own tokens. */
  tokens: TokenCounts;
  /** The key's tokens at tollgate's prices; undefined when tollgate has no price for the model. */
  pricedUsd?: number;
  /** The key's requests, where the provider counts them. */
  requests: number | null;
  /** Images, characters, seconds: the key's media units, where reported. */
  units: boolean;
  /** The whole project's/workspace's tokens of this model at tollgate's prices (to share its dollars). */
  scopePricedUsd: number;
  /** The provider's dollars for the key (OpenAI) or its workspace (Anthropic), when the cost report was read. */
  keyCostUsd?: number;
  scopeCostUsd?: number;
}

/** Anthropic bills a request whose context passed 200k tokens at the long-context tier. */
const tierOf = (contextWindow: string | null): number | undefined =>
  contextWindow === null ? 0 : contextWindow.startsWith('0-') ? 0 : Number.MAX_SAFE_INTEGER;

function priceRow(row: ProviderUsage, model: ModelConfig, at: number): number {
  // Anthropic's US-only inference is billed, and charged by the gateway, at 1.1 x every token price.
  const prices = row.inferenceGeo === 'us' ? upliftPrices(model, US_INFERENCE_UPLIFT).prices : model.prices;
  const table = priceAt(prices, at);
  const t = row.tokens;
  const usd = costWith(
    {
      inputTokens: t.input + t.cached_input + t.cache_write,
      cachedTokens: t.cached_input,
      cacheWriteTokens: t.cache_write,
      cacheWrite1hTokens: row.cacheWrite1h,
      outputTokens: t.output,
      inputAudioTokens: row.inputAudio,
      outputAudioTokens: row.outputAudio,
    },
    table,
    tierOf(row.contextWindow),
  );
  // costWith adds one request's fixed price; a day has `requests` of them.
  return usd - table.perRequest + table.perRequest * (row.requests ?? 0);
}

function resolveFor(config: Config, upstream: string, name: string, at: number): ModelConfig | undefined {
  for (const candidate of [name, name.toLowerCase()]) {
    const r = resolveModelName(config, candidate, at);
    if (r.model && r.model.upstream === upstream) return r.model;
  }
  return undefined;
}

export function foldReport(
  report: ProviderReport,
  config: Config,
  upstream: string,
  billing: BillingConfig,
  /** The moment whose prices apply: noon of the day checked. */
  at: number,
): Map<string, BilledModel> {
  const out = new Map<string, BilledModel>();
  const entryOf = (name: string): { model: string; config?: ModelConfig } => {
    const m = resolveFor(config, upstream, name, at);
    return m ? { model: m.name, config: m } : { model: name };
  };
  const get = (model: string): BilledModel => {
    let b = out.get(model);
    if (!b) {
      b = { model, tokens: NO_TOKENS, requests: null, units: false, scopePricedUsd: 0 };
      out.set(model, b);
    }
    return b;
  };
  for (const row of report.usage) {
    const entry = entryOf(row.model);
    const ours = row.apiKeyId === billing.apiKeyId;
    const priced = entry.config ? priceRow(row, entry.config, at) : undefined;
    if (!ours) {
      // Another key of the same project/workspace: only its share of the dollars matters.
      if (priced !== undefined) get(entry.model).scopePricedUsd += priced;
      continue;
    }
    const b = get(entry.model);
    b.tokens = addTokens(b.tokens, row.tokens);
    if (row.requests !== null) b.requests = (b.requests ?? 0) + row.requests;
    if (row.units) b.units = true;
    if (priced !== undefined) {
      b.pricedUsd = (b.pricedUsd ?? 0) + priced;
      b.scopePricedUsd += priced;
    }
  }
  for (const cost of report.costs ?? []) {
    if (cost.apiKeyId !== null && cost.apiKeyId !== billing.apiKeyId) continue;
    const b = get(entryOf(cost.model).model);
    if (cost.apiKeyId === null) b.scopeCostUsd = (b.scopeCostUsd ?? 0) + cost.usd;
    else if (cost.apiKeyId === billing.apiKeyId) b.keyCostUsd = (b.keyCostUsd ?? 0) + cost.usd;
  }
  return out;
}
