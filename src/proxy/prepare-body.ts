import type { OutputPlan } from '../policy/output-cap.js';
import type { Route } from './routes.js';

export interface PreparedBody {
  /** The bytes sent upstream: the client's own when nothing had to change. */
  body: Buffer;
  /** A held upload, sent instead of `body` chunk by chunk as it arrived (and let go as sent). */
  chunks?: Buffer[];
  stream: boolean;
  /** The gateway asked for the usage chunk; the client did not, so it must not see it. */
  hideUsageChunk: boolean;
}

/**
 * The body to forward. Two changes, both so that metering is exact and the reservation holds:
 * an OpenAI stream is asked to report usage (`stream_options.include_usage`), and a request
 * without an output cap, or asking for more than the key's cap, gets the key's cap (and a request
 * allowing unboundedly many web searches gets a bound, and one advertising a hosted tool tollgate does
 * not meter has it taken out, see src/policy/server-tools.ts).
 */
export function prepareBody(
  raw: Buffer,
  parsed: Record<string, unknown>,
  route: Route,
  output: OutputPlan,
  set?: Record<string, unknown>,
): PreparedBody {
  const stream = parsed.stream === true;
  let next: Record<string, unknown> | undefined;
  let hideUsageChunk = false;
  if (route.injectIncludeUsage && stream) {
    const options = parsed.stream_options;
    const asked =
      typeof options === 'object' &&
      options !== null &&
      (options as Record<string, unknown>).include_usage === true;
    if (!asked) {
      next = { ...parsed };
      next.stream_options = {
        ...(typeof options === 'object' && options !== null ? options : {}),
        include_usage: true,
      };
      hideUsageChunk = true;
    }
  }
  if (output.inject) {
    next ??= { ...parsed };
    for (const field of output.inject.fields) next[field] = output.inject.value;
  }
  if (set) {
    next = { ...(next ?? parsed) };
    // A field set to undefined is left out: a request whose every tool was taken out goes without `tools`.
    for (const [field, value] of Object.entries(set)) {
      if (value === undefined) delete next[field];
      else next[field] = value;
    }
  }
  return { body: next ? Buffer.from(JSON.stringify(next), 'utf8') : raw, stream, hideUsageChunk };
}
