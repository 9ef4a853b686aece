import type { Config, ModelConfig } from '../config/types.js';
import { resolveModelName } from '../policy/model-names.js';
import { costWith, flat, type PriceTable, priceAt, type Tiered } from '../pricing/pricing.js';

/** Token sums of many requests. */
export interface TokenSums {
  requests: number;
  inputTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
}

/** The config's model for a recorded name (a glob entry's catalog model too), or undefined. */
export function modelNamed(config: Config, name: string, at: number): ModelConfig | undefined {
  if (name === '') return undefined;
  const resolved = resolveModelName(config, name, at);
  return resolved.model && resolved.model.prices.length > 0 ? resolved.model : undefined;
}

const base = (t: Tiered): Tiered => flat(t.base);
const baseOf = (t: Tiered | undefined): Tiered | undefined => (t ? base(t) : undefined);

/**
 * The table without its long-context tiers: a tier is chosen by one request's input, which sums
 * of many requests do not have. Used for requests too small to reach a tier (expensive_model)
 * and for the input/output split of a key's spend.
 */
function untiered(t: PriceTable): PriceTable {
  const out: PriceTable = {
    input: base(t.input),
    cacheRead: base(t.cacheRead),
    cacheWrite: base(t.cacheWrite),
    cacheWrite1h: base(t.cacheWrite1h),
    output: base(t.output),
    perRequest: t.perRequest,
  };
  const reasoning = baseOf(t.outputReasoning);
  if (reasoning) out.outputReasoning = reasoning;
  return out;
}

/** What `sums` cost at `model`'s prices at `at`, with the metering's own arithmetic (costWith). */
export function priceSums(sums: TokenSums, model: ModelConfig, at: number): number {
  const table = untiered(priceAt(model.prices, at));
  const usd = costWith(
    {
      inputTokens: sums.inputTokens,
      cachedTokens: sums.cachedTokens,
      cacheWriteTokens: sums.cacheWriteTokens,
      outputTokens: sums.outputTokens,
    },
    table,
  );
  // costWith adds the per-request price once; the sums are `requests` requests.
  return usd + table.perRequest * Math.max(0, sums.requests - 1);
}

/** The parts of `sums`' price that are input and output (per-request prices in neither). */
export function inputOutputUsd(
  sums: TokenSums,
  model: ModelConfig,
  at: number,
): { input: number; output: number } {
  const noCalls = { ...sums, requests: 1 };
  const table = untiered(priceAt(model.prices, at));
  const input = priceSums({ ...noCalls, outputTokens: 0 }, model, at) - table.perRequest;
  const output =
    priceSums({ ...noCalls, inputTokens: 0, cachedTokens: 0, cacheWriteTokens: 0 }, model, at) -
    table.perRequest;
  return { input: Math.max(0, input), output: Math.max(0, output) };
}

/** USD per million tokens of uncached input, cache reads and cache writes at `at`. */
export function inputPrices(model: ModelConfig, at: number): { input: number; read: number; write: number } {
  const t = priceAt(model.prices, at);
  return { input: t.input.base, read: t.cacheRead.base, write: t.cacheWrite.base };
}
