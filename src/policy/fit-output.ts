import type { ModelConfig } from '../config/types.js';
import { type CacheWrites, maxCostOf } from '../metering/pricing.js';
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
}

export function createOutputFitter(
  plan: OutputPlan,
  model: ModelConfig,
  ts: number,
  input: { inputTokens: number; cacheWrites: CacheWrites; choices: number; webSearches: number },
): OutputFitter {
  const costFor = (outputTokens: number) =>
    maxCostOf(model, ts, {
      inputTokens: input.inputTokens,
      cacheWrites: input.cacheWrites,
      webSearches: input.webSearches,
      outputTokens,
    });
  let current = plan;
  const amountUsd = costFor(plan.maxOutputTokens);
  const inject = plan.inject;
  if (!plan.gatewayChosen || !inject) return { amountUsd, plan: () => current };
  const fixed = costFor(0);
  const perToken = (costFor(1_000_000) - fixed) / 1_000_000;
  return {
    amountUsd,
    plan: () => current,
    fit(roomUsd) {
      if (!(perToken > 0) || !(roomUsd > fixed)) return undefined;
      let each = Math.floor((roomUsd - fixed) / perToken / input.choices);
      while (each > 0 && costFor(each * input.choices) > roomUsd) each--;
      if (each < MIN_FITTED_OUTPUT_TOKENS || each >= inject.value) return undefined;
      current = {
        ...plan,
        maxOutputTokens: each * input.choices,
        inject: { fields: inject.fields, value: each },
      };
      return costFor(current.maxOutputTokens);
    },
  };
}
