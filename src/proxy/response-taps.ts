import { maskSecrets } from '../keys/mask-secrets.js';
import { createJsonTap } from '../metering/json-tap.js';
import { createSseTap } from '../metering/sse-tap.js';
import { EMPTY, type ResponseTap } from '../metering/tap.js';
import type { UsageReader } from '../metering/usage-reader.js';
import { redactTap } from './redact-tap.js';

const BINARY = /^\s*(audio\/|image\/|video\/|application\/octet-stream)/i;

const PASS_THROUGH: ResponseTap = { transform: (chunk) => chunk, flush: () => EMPTY };

export interface ResponseTaps {
  /** The tap for a response of this content type; `rewrites` when bytes may change length. */
  tapFor(contentType: string): { tap: ResponseTap; rewrites: boolean };
  /** Masks the secrets in a passed-through response header. */
  redactHeader(value: string): string;
  /** The reader, counting SSE lines too long to parse as generated text (for the estimate). */
  reader(): UsageReader;
}

/**
 * How one upstream response is tapped on its way to the client: its usage read (JSON or SSE),
 * the gateway's usage chunk hidden, and the secrets that must never come back redacted (the
 * upstream key the gateway sent, the client's own key) from headers and body alike.
 */
export function responseTaps(
  reader: UsageReader,
  opts: { hideUsageChunk: boolean; secrets: readonly string[] },
): ResponseTaps {
  let unparsedBytes = 0;
  return {
    tapFor: (contentType) =>
      contentType.includes('text/event-stream')
        ? {
            tap: redactTap(
              createSseTap(reader, {
                hideUsageChunk: opts.hideUsageChunk,
                onUnparsed: (bytes) => {
                  unparsedBytes += bytes;
                },
              }),
              opts.secrets,
            ),
            rewrites: opts.hideUsageChunk,
          }
        : BINARY.test(contentType)
          ? // Audio and image bytes carry no usage: passed on as they come, with no copy kept.
            { tap: redactTap(PASS_THROUGH, opts.secrets), rewrites: false }
          : { tap: redactTap(createJsonTap(reader), opts.secrets), rewrites: false },
    redactHeader: (value) => maskSecrets(value, opts.secrets),
    reader: () =>
      unparsedBytes === 0 ? reader : { ...reader, textChars: () => reader.textChars() + unparsedBytes },
  };
}
