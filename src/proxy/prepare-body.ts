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
  if (set && !next) {
    const added = insertFields(raw, parsed, set);
    if (added) return { body: added, stream, hideUsageChunk };
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

/**
 * The client's bytes with `set`'s fields written in after the opening brace, when that is all that
 * changes: every field is new to the body. Serializing the parsed body again would change what
 * JSON.parse cannot keep (an integer above 2^53 such as a `seed`, the order of integer-like keys in
 * a JSON schema, 1e400). Undefined when a field replaces or removes one the body has.
 */
function insertFields(
  raw: Buffer,
  parsed: Record<string, unknown>,
  set: Record<string, unknown>,
): Buffer | undefined {
  let head = '';
  for (const [field, value] of Object.entries(set)) {
    if (value === undefined || Object.hasOwn(parsed, field)) return undefined;
    head += `${JSON.stringify(field)}:${JSON.stringify(value)},`;
  }
  let at = 0;
  while (at < raw.length && (raw[at] === 0x20 || raw[at] === 0x09 || raw[at] === 0x0a || raw[at] === 0x0d))
    at++;
  // parseJsonBody took an object, and an object with a model in it is not empty.
  if (raw[at] !== 0x7b || Object.keys(parsed).length === 0) return undefined;
  return Buffer.concat([raw.subarray(0, at + 1), Buffer.from(head, 'utf8'), raw.subarray(at + 1)]);
}
