import type { ModelConfig } from '../config/types.js';
import { type CacheWrites, maxCostOf, priceAt } from '../pricing/pricing.js';
import type { OutputPlan } from './output-cap.js';

/**
 * The last part of a budget, for requests that set no output limit (Codex never sends
 * max_output_tokens): when the bound the gateway chose for such a request does not fit in what is
 * left, the gateway lowers that bound to what still fits rather than refuse, down to
 * MIN_FITTED_OUTPUT_TOKENS. Below that an answer would likely be cut off mid-thought and the money
 * wasted, so the request is refused instead. A request that set its own limit is never lowered to
 * fit: the client asked for that much, and a clear refusal beats a silently shorter answer.
 */
export const MIN_FITTED_OUTPUT_TOKENS = 1_024;

export interface OutputFitter {
  /** The maximum cost of the plan as made. */
  amountUsd: number;
  /** Offered to reserveBudget: a smaller amount that fits in `roomUsd`, or undefined. */
  fit?: (roomUsd: number) => number | undefined;
  /** The plan whose cost was last offered (the one reserved, once the reservation succeeded). */
  plan(): OutputPlan;
  /** The input tokens that plan's cost pays for: the body's estimate, or the unseen-input bound. */
  inputTokens(): number;
}

export interface FitterInput {
  /** Input tokens estimated from the body. */
  inputTokens: number;
  cacheWrites: CacheWrites;
  choices: number;
  webSearches: number;
  /**
   * Set when the request references input the body does not carry (unseen-input.ts): input is
   * then bounded by the context window the input and each answer share, not by the body.
   */
  contextWindow?: number;
}

export function createOutputFitter(
  plan: OutputPlan,
  model: ModelConfig,
  ts: number,
  input: FitterInput,
): OutputFitter {
  const costAt = (inputTokens: number, outputTokens: number) =>
    maxCostOf(model, ts, {
      inputTokens,
      cacheWrites: input.cacheWrites,
      webSearches: input.webSearches,
      outputTokens,
    });
  const window = input.contextWindow;
  /** Input billed beside `outputTokens` of output: each answer shares the window with the input. */
  const inputFor = (outputTokens: number) =>
    window === undefined
      ? input.inputTokens
      : Math.max(input.inputTokens, window - Math.ceil(outputTokens / input.choices));
  // Each tier start is where the price of the input beside o output tokens may jump.
  const edges = window === undefined ? [] : tierStarts(model, ts);
  /**
   * The most a request with at most `outputTokens` of output can cost. With unseen input, less
   * output leaves room for more input, so every split of the window up to the bound is a
   * candidate; the cost is linear in the split between tier edges, so the worst is at an end of
   * the range or at an edge. It never falls as `outputTokens` grows, which fit's search needs.
   */
  const costFor = (outputTokens: number) => {
    if (window === undefined) return costAt(input.inputTokens, outputTokens);
    let worst = costAt(inputFor(outputTokens), outputTokens);
    const splits = [0];
    for (const start of edges)
      for (const at of [start, start + 1]) splits.push((window - at) * input.choices);
    for (const o of splits) if (o >= 0 && o < outputTokens) worst = Math.max(worst, costAt(inputFor(o), o));
    return worst;
  };
  let current = plan;
  const amountUsd = costFor(plan.maxOutputTokens);
  const inject = plan.inject;
  const base = { amountUsd, plan: () => current, inputTokens: () => inputFor(current.maxOutputTokens) };
  if (!plan.gatewayChosen || !inject) return base;
  const fits = (each: number, roomUsd: number) => costFor(each * input.choices) <= roomUsd;
  return {
    ...base,
    fit(roomUsd) {
      // The largest bound per answer, from MIN_FITTED_OUTPUT_TOKENS up to below the one planned,
      // whose cost fits (costFor never falls as the bound grows, so a binary search finds it).
      let lo = MIN_FITTED_OUTPUT_TOKENS;
      let hi = inject.value - 1;
      if (hi < lo || !fits(lo, roomUsd)) return undefined;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (fits(mid, roomUsd)) lo = mid;
        else hi = mid - 1;
      }
      current = {
        ...plan,
        maxOutputTokens: lo * input.choices,
        inject: { fields: inject.fields, value: lo },
      };
      return costFor(current.maxOutputTokens);
    },
  };
}

/** The input-token counts at which any of the model's prices at `ts` changes tier. */
function tierStarts(model: ModelConfig, ts: number): number[] {
  const t = priceAt(model.prices, ts);
  const starts = new Set<number>();
  for (const tiered of [
    t.input,
    t.cacheWrite,
    t.cacheWrite1h,
    t.output,
    t.outputReasoning,
    t.inputAudio,
    t.outputAudio,
    t.outputImage,
  ])
    for (const tier of tiered?.tiers ?? []) starts.add(tier.start);
  return [...starts];
}
