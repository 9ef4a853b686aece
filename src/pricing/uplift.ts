import type { PricePeriod, PriceTable, Tiered } from './pricing.js';

/**
 * Anthropic's US-only inference (`"inference_geo": "us"` on a Messages request, or a workspace
 * whose default geo is `us`, which the answer's `usage.inference_geo` reports) is billed at 1.1 x
 * every token price of the model: input, cache writes and reads, output. The catalog carries only
 * the global prices.
 */
export const US_INFERENCE_UPLIFT = 1.1;

const times = (t: Tiered, by: number): Tiered => ({
  base: t.base * by,
  tiers: t.tiers.map((x) => ({ start: x.start, price: x.price * by })),
});

const maybe = (t: Tiered | undefined, by: number) => (t ? times(t, by) : undefined);

/** The table with every token price multiplied by `by`; per-request and per-search fees as they are. */
function upliftTable(t: PriceTable, by: number): PriceTable {
  const out: PriceTable = {
    ...t,
    input: times(t.input, by),
    cacheRead: times(t.cacheRead, by),
    cacheWrite: times(t.cacheWrite, by),
    cacheWrite1h: times(t.cacheWrite1h, by),
    output: times(t.output, by),
  };
  for (const k of [
    'outputReasoning',
    'inputAudio',
    'outputAudio',
    'cacheAudioRead',
    'inputImage',
    'cacheImageRead',
    'outputImage',
  ] as const) {
    const scaled = maybe(t[k], by);
    if (scaled) out[k] = scaled;
  }
  return out;
}

/** A model's prices over time, each token price multiplied by `by`. */
export function upliftPrices<M extends { prices: readonly PricePeriod[] }>(model: M, by: number): M {
  return { ...model, prices: model.prices.map((p) => ({ ...p, table: upliftTable(p.table, by) })) };
}
