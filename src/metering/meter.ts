import type { ModelConfig } from '../config/types.js';
import type { UsageSource } from '../store/types.js';
import { estimateOutputTokens } from './estimate.js';
import { implausibleUsage } from './plausible-usage.js';
import { costOf, NO_USAGE, type Usage } from './pricing.js';
import type { UsageReader } from './usage-reader.js';

/** How a forwarded exchange ended, as far as metering cares. */
export interface ExchangeEnd {
  /** True when the upstream body arrived whole. */
  completed: boolean;
  /** The upstream's status, when a response arrived. */
  upstreamStatus?: number;
  /** Whether the request reached the upstream, which may then bill for it. */
  reachedUpstream: boolean;
}

export interface Metered {
  usage: Usage;
  usageSource: UsageSource;
  costUsd: number;
  /** Why the provider's own usage report was not trusted (then the estimate was charged). */
  distrusted?: string;
}

/**
 * Tokens and cost of one forwarded request. The provider's numbers when it sent them and they
 * are plausible (plausible-usage.ts); otherwise an estimate (input from the request body, output
 * from the text streamed so far) whenever the upstream may have done work: a request cut short
 * is still paid for.
 */
export function meterExchange(
  end: ExchangeEnd,
  reader: UsageReader,
  model: ModelConfig,
  inputEstimate: number,
  free: boolean,
  ts: number,
  outputBound = Number.POSITIVE_INFINITY,
): Metered {
  if (free) return { usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
  // The bound is written into the request, so no answer is longer: text estimated past it (a
  // long unparsed SSE line counted as text) is not output the provider can bill.
  const streamedOutput = Math.min(estimateOutputTokens(reader.textChars()), outputBound);
  const estimate = (): Metered => {
    const usage = {
      inputTokens: inputEstimate,
      outputTokens: streamedOutput,
      cachedTokens: 0,
      cacheWriteTokens: 0,
    };
    return { usage, usageSource: 'estimated', costUsd: costOf(usage, model, ts) };
  };
  const reported = reader.usage();
  const distrusted = reported && implausibleUsage(reported);
  if (reported && !distrusted) {
    // A stream cut short can carry a partial count (Anthropic's message_start says 1 output token).
    const outputTokens = end.completed
      ? reported.outputTokens
      : Math.max(reported.outputTokens, streamedOutput);
    const usage = { ...reported, outputTokens };
    const usageSource = outputTokens > reported.outputTokens ? 'estimated' : 'provider';
    try {
      return { usage, usageSource, costUsd: costOf(usage, model, ts) };
    } catch (err) {
      // Plausible counts at the configured prices still overflow: the estimate's smaller counts.
      return { ...estimate(), distrusted: err instanceof Error ? err.message : String(err) };
    }
  }
  // A report that cannot be true is no report: the upstream did work, charge what it may have cost.
  if (distrusted) return { ...estimate(), distrusted };
  // An error answer without usage: the provider does not bill it.
  if (end.completed && (end.upstreamStatus ?? 0) >= 400)
    return { usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
  if (end.reachedUpstream) return estimate();
  return { usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
}
