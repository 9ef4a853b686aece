import type { KeyConfig, ModelConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { MAX_OUTPUT_FIELDS, requestedOutputTokens } from '../metering/estimate.js';
import { MAX_PLAUSIBLE_TOKENS } from '../metering/plausible-usage.js';

/** OpenAI's own ceiling for `n`; more choices than this is no real request. */
const MAX_CHOICES = 128;

export interface OutputPlan {
  /** The most output tokens this request can produce: what the reservation pays for. */
  maxOutputTokens: number;
  /** Cap fields the gateway writes into the body, when it must. */
  inject?: { fields: string[]; value: number };
  /** The gateway set or lowered the request's output cap (sent back as `x-tollgate-output-capped`). */
  capped?: boolean;
  /** The request asked for more than the key's cap and was lowered to it. */
  lowered?: boolean;
  /** The request set no output cap of its own: the bound is the gateway's choice (see fit-output.ts). */
  gatewayChosen?: boolean;
}

/**
 * The output bound of a request (docs/api.md#metering-briefly): the request's own max_tokens (or the model's
 * max_output_tokens when it sets none), capped by the key's `max_output_tokens`. The bound is
 * enforced on the request itself by writing it into the body, so no answer can cost more than
 * was reserved: a request asking for more than the key's cap is lowered to the cap (the answer
 * then ends with the provider's usual "length" stop), and a request asking for nothing gets the
 * bound written in. Both say so in `x-tollgate-output-capped`. Refusing instead would lock out
 * tools that always send a large max_tokens (Claude Code sends 32,000) or none (Codex).
 *
 * A model whose output is free (a local model at $0) gets nothing written into a request that set
 * no cap: no answer can overshoot a reservation there, and some local servers reject fields they
 * do not know.
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
  checkOutputFields(body);
  // Only a field the route's upstream honours bounds the answer: `max_output_tokens` on a chat
  // request is ignored by OpenAI-compatible servers, so it must not shrink the reservation.
  const honoured = honouredOutputFields(outputField);
  const requested = requestedOutputTokens(body, honoured);
  const cap = key.limits.maxOutputTokens;
  const choices = choiceCount(body);
  if (requested !== undefined) {
    if (cap !== undefined && requested > cap) {
      const fields = honoured.filter((f) => typeof body[f] === 'number' && (body[f] as number) > cap);
      return {
        maxOutputTokens: cap * choices,
        inject: { fields, value: cap },
        capped: true,
        lowered: true,
      };
    }
    return { maxOutputTokens: requested * choices };
  }
  const bound = cap !== undefined && cap < model.maxOutputTokens ? cap : model.maxOutputTokens;
  if (cap === undefined && !outputCosts(model)) return { maxOutputTokens: bound * choices };
  return {
    maxOutputTokens: bound * choices,
    inject: { fields: [outputField], value: bound },
    capped: true,
    gatewayChosen: true,
  };
}

function outputCosts(model: ModelConfig): boolean {
  return model.outputPerMtok > 0;
}

/** OpenAI's `n` (and legacy `best_of`) generate that many answers, each up to the output cap. */
export function choiceCount(body: Record<string, unknown>): number {
  let count = 1;
  for (const field of ['n', 'best_of']) {
    const v = body[field];
    if (typeof v === 'number' && Number.isInteger(v) && v > count) count = v;
  }
  return count;
}

/**
 * The fields the reservation is computed from must be counts: `max_tokens: 1e308` would reserve
 * $Infinity and `n: -1` nothing. Refused with what is wrong and the value, before any money moves.
 */
/** Chat completions honour the legacy `max_tokens` beside `max_completion_tokens`; other routes one field. */
export function honouredOutputFields(outputField: string): readonly string[] {
  return outputField === 'max_completion_tokens' ? ['max_completion_tokens', 'max_tokens'] : [outputField];
}

function checkOutputFields(body: Record<string, unknown>): void {
  const bad = (field: string, v: unknown, max: number, min: number) => {
    if (v === undefined || v === null) return;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max) return;
    const shown = typeof v === 'string' ? `'${v.slice(0, 40)}'` : JSON.stringify(v)?.slice(0, 40);
    throw new GatewayError(
      'invalid_request',
      `${field} must be a whole number from ${min} to ${max.toLocaleString('en-US')}; got ${shown}. Send a smaller ${field}, or leave it out to get the model's limit.`,
    );
  };
  for (const field of MAX_OUTPUT_FIELDS) bad(field, body[field], MAX_PLAUSIBLE_TOKENS, 0);
  for (const field of ['n', 'best_of']) bad(field, body[field], MAX_CHOICES, 1);
}
