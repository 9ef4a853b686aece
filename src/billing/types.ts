/**
 * The bill check's vocabulary (docs/bill-check.md): what the provider reports for one UTC day,
 * what tollgate metered, and the row that sets one against the other.
 */

import type { TokenCounts } from '../store/bill-check-types.js';

export type { BillRow, MeteredModel, TokenCounts, Verdict } from '../store/bill-check-types.js';

/** One group of the provider's usage report for the day: a key (or workspace) and a model. */
export interface ProviderUsage {
  /** The model as the provider names it (usually a dated id: claude-sonnet-4-5-20250929). */
  model: string;
  apiKeyId: string | null;
  /** Anthropic workspace / OpenAI project, when grouped by it. */
  scopeId: string | null;
  tokens: TokenCounts;
  /** The part of cache_write written with a 1-hour TTL (Anthropic). */
  cacheWrite1h: number;
  /** The parts of the input and output tokens that are audio (OpenAI), cached audio included. */
  inputAudio: number;
  outputAudio: number;
  /** Requests, where the provider counts them (OpenAI). */
  requests: number | null;
  /** Anthropic's context-window tier (`0-200k`, `200k-1M`): the price tier its tokens were billed in. */
  contextWindow: string | null;
  /**
   * Anthropic's inference geo (`global`, `us`, `not_available`): `us` is billed at
   * US_INFERENCE_UPLIFT times every token price, as the gateway charges it. Absent or null: global.
   */
  inferenceGeo?: string | null;
  /** Images, characters or seconds of audio, for OpenAI's media reports. */
  units?: { images?: number; characters?: number; seconds?: number };
}

/** Dollars of the provider's cost report for one model over a scope (the key, or its project/workspace). */
export interface ProviderCost {
  model: string;
  scopeId: string | null;
  apiKeyId: string | null;
  usd: number;
}

export interface ProviderReport {
  usage: ProviderUsage[];
  /** Undefined when the upstream names no project/workspace: dollars are then not compared. */
  costs?: ProviderCost[];
}

export const NO_TOKENS: TokenCounts = { input: 0, cached_input: 0, cache_write: 0, output: 0 };

export function addTokens(a: TokenCounts, b: TokenCounts): TokenCounts {
  return {
    input: a.input + b.input,
    cached_input: a.cached_input + b.cached_input,
    cache_write: a.cache_write + b.cache_write,
    output: a.output + b.output,
  };
}
