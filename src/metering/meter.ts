import type { ModelConfig } from '../config/types.js';
import type { UsageSource } from '../store/types.js';
import { estimateOutputTokens } from './estimate.js';
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
}

/**
 * Tokens and cost of one forwarded request. The provider's numbers when it sent them; otherwise an
 * estimate (input from the request body, output from the text streamed so far) whenever the
 * upstream may have done work: a request cut short is still paid for.
 */
export function meterExchange(
  end: ExchangeEnd,
  reader: UsageReader,
  model: ModelConfig,
  inputEstimate: number,
  free: boolean,
  ts: number,
): Metered {
  if (free) return { usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
  const reported = reader.usage();
  const streamedOutput = estimateOutputTokens(reader.textChars());
  let usage: Usage;
  let usageSource: UsageSource;
  if (reported) {
    // A stream cut short can carry a partial count (Anthropic's message_start says 1 output token).
    const outputTokens = end.completed
      ? reported.outputTokens
      : Math.max(reported.outputTokens, streamedOutput);
    usage = { ...reported, outputTokens };
    usageSource = outputTokens > reported.outputTokens ? 'estimated' : 'provider';
  } else if (end.completed && (end.upstreamStatus ?? 0) >= 400) {
    // An error answer without usage: the provider does not bill it.
    return { usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
  } else if (end.reachedUpstream) {
    usage = {
      inputTokens: inputEstimate,
      outputTokens: streamedOutput,
      cachedTokens: 0,
      cacheWriteTokens: 0,
    };
    usageSource = 'estimated';
  } else {
    return { usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
  }
  return { usage, usageSource, costUsd: costOf(usage, model, ts) };
}
