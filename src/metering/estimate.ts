/**
 * Token estimates for the two moments the provider's own count is not available: before the
 * request (to reserve its maximum cost, so on the high side) and after a stream that ended without
 * usage (client abort, upstream died).
 */

/**
 * Input tokens of a request body, high side: one token per 3 bytes of the whole JSON. Real text
 * averages about 4 characters per token and the JSON syntax adds more bytes, so this over-reserves
 * rather than lets concurrent requests overshoot a budget; settle charges the real count.
 */
export function estimateInputTokens(bodyBytes: number): number {
  return Math.ceil(bodyBytes / 3);
}

/** Output tokens of streamed text that the provider never counted: 4 characters per token, rounded up. */
export function estimateOutputTokens(textChars: number): number {
  return Math.ceil(textChars / 4);
}

/** The fields through which the wire formats cap a request's output. */
export const MAX_OUTPUT_FIELDS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const;

/** The output cap a request asks for, if it sets one (the largest, if it sets several). */
export function requestedOutputTokens(body: Record<string, unknown>): number | undefined {
  let found: number | undefined;
  for (const field of MAX_OUTPUT_FIELDS) {
    const v = body[field];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) found = Math.max(found ?? 0, Math.ceil(v));
  }
  return found;
}
