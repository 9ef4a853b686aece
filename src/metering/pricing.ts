import type { ModelConfig } from '../config/types.js';
import { checkedUsd } from './money.js';

/** Tokens of one request as the gateway meters them. */
export interface Usage {
  /** All input tokens, cached ones included. */
  inputTokens: number;
  outputTokens: number;
  /** The part of inputTokens read from a prompt cache. */
  cachedTokens: number;
  /** The part of outputTokens spent reasoning, when the provider says (checked, not priced). */
  reasoningTokens?: number;
}

export const NO_USAGE: Usage = { inputTokens: 0, outputTokens: 0, cachedTokens: 0 };

/**
 * USD cost of `usage` at the model's prices per million tokens: uncached input at the input price,
 * cached input at the cached price, output at the output price.
 */
export function costOf(
  usage: Usage,
  model: Pick<ModelConfig, 'inputPerMtok' | 'outputPerMtok' | 'cachedInputPerMtok'>,
): number {
  const cached = Math.min(usage.cachedTokens, usage.inputTokens);
  const uncached = usage.inputTokens - cached;
  return checkedUsd(
    (uncached * model.inputPerMtok +
      cached * model.cachedInputPerMtok +
      usage.outputTokens * model.outputPerMtok) /
      1e6,
    `the cost of ${usage.inputTokens} input and ${usage.outputTokens} output tokens`,
  );
}
