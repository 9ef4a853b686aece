import type { Usage } from '../pricing/pricing.js';

/**
 * The most tokens one field of one usage report may count. No model served today reads or
 * writes more than 10M tokens in one request (the largest context windows are 1-2M, Llama 4
 * Scout's 10M the outlier), and a request body is at most 32 MiB: a count above this is a
 * broken or hostile upstream, not a bill. At the dearest catalog price ($600 per million output
 * tokens) it is still a finite $6,000, so trusting a count up to it can never make money
 * non-finite.
 */
export const MAX_PLAUSIBLE_TOKENS = 10_000_000;

/**
 * Why a provider's usage report cannot be trusted, or undefined when it can. It checks the
 * usage reader's output (every numeric field, whatever fields the reader fills): the reader
 * turns a count that is present but not a count (a string, a negative, a fraction, `1e308`)
 * into NaN, and leaves an absent one at 0. A distrusted report is replaced by the estimate.
 */
export function implausibleUsage(usage: Usage): string | undefined {
  // for…in, not Object.entries: this runs on every metered response (usage is a plain object).
  for (const field in usage) {
    const value = (usage as unknown as Record<string, unknown>)[field];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
      return `${field} is not a whole number of tokens`;
    if (value > MAX_PLAUSIBLE_TOKENS)
      return `${field} is ${value}, above the ${MAX_PLAUSIBLE_TOKENS.toLocaleString('en-US')} tokens no request can reach`;
  }
  return undefined;
}
