import type { KeyConfig, ModelConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { requestedOutputTokens } from '../metering/estimate.js';

export interface OutputPlan {
  /** The most output tokens this request can produce: what the reservation pays for. */
  maxOutputTokens: number;
  /** Set when the request names no cap but the key has one: the gateway adds it to the body. */
  inject?: { field: string; value: number };
}

/**
 * The output bound of a request. A request that asks for more than the key's `max_output_tokens`
 * is refused rather than silently clamped, so a tool never gets answers cut short without being
 * told why. A request that asks for nothing gets the key's cap written into its body, otherwise
 * the model could write past what the reservation covers.
 *
 * @param outputField the route's field for the cap (`max_completion_tokens`, `max_tokens`, …),
 *   undefined for routes that produce no output tokens (embeddings, count_tokens).
 */
export function planOutput(
  body: Record<string, unknown>,
  outputField: string | undefined,
  model: ModelConfig,
  key: KeyConfig,
): OutputPlan {
  if (outputField === undefined) return { maxOutputTokens: 0 };
  const requested = requestedOutputTokens(body);
  const cap = key.limits.maxOutputTokens;
  const choices = choiceCount(body);
  if (requested !== undefined) {
    if (cap !== undefined && requested > cap) {
      throw new GatewayError(
        'invalid_request',
        `key '${key.name}' may ask for at most ${cap} output tokens per request (limits.max_output_tokens); this request asks for ${requested}: lower max_tokens to ${cap} or less.`,
      );
    }
    return { maxOutputTokens: requested * choices };
  }
  if (cap !== undefined && cap < model.maxOutputTokens) {
    return { maxOutputTokens: cap * choices, inject: { field: outputField, value: cap } };
  }
  return { maxOutputTokens: model.maxOutputTokens * choices };
}

/** OpenAI's `n` (and legacy `best_of`) generate that many answers, each up to the output cap. */
function choiceCount(body: Record<string, unknown>): number {
  let count = 1;
  for (const field of ['n', 'best_of']) {
    const v = body[field];
    if (typeof v === 'number' && Number.isInteger(v) && v > count) count = v;
  }
  return count;
}
