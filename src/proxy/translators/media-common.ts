import type { ModelConfig } from '../../config/types.js';
import { GatewayError } from '../../errors.js';
import { type MediaPlan, meterMedia } from '../../metering/media-meter.js';
import type { MediaBound } from '../../metering/media-prices.js';
import { createMediaReader, type MediaReader, type MediaUsageKind } from '../../metering/media-usage.js';
import { NO_USAGE } from '../../pricing/pricing.js';
import type { PreparedBody } from '../prepare-body.js';
import type { Route } from '../routes.js';
import type { RequestBound, Translator, WireRequest } from './translator.js';

/**
 * What the image and audio translators (media-json.ts, media-upload.ts) share: a bound that is a
 * fixed amount (no output cap to write into the body, nothing to lower to fit a budget), the
 * body forwarded exactly as it came, and metering by metering/media-meter.ts.
 */

/** The request's bound as the reserve stage takes it: its maximum cost, fixed. */
export function fixedBound(plan: MediaPlan, bound: MediaBound): RequestBound {
  return {
    inputEstimate: bound.inputTokens,
    mayReason: false,
    fitter: {
      amountUsd: bound.usd,
      plan: () => ({ maxOutputTokens: bound.outputTokens }),
      inputTokens: () => bound.inputTokens,
    },
    why: bound.why,
    media: { plan, bound },
  };
}

/** A free route (moderations): nothing reserved, nothing charged, recorded. */
export const FREE_BOUND: RequestBound = {
  inputEstimate: 0,
  mayReason: false,
  fitter: { amountUsd: 0, plan: () => ({ maxOutputTokens: 0 }), inputTokens: () => 0 },
};

/** The client's bytes, unchanged: nothing in an image or audio request needs rewriting to be bounded. */
export function forwardAsSent(request: WireRequest): PreparedBody {
  return {
    body: request.raw,
    ...(request.upload ? { chunks: request.upload.chunks } : {}),
    stream: request.stream,
    hideUsageChunk: false,
  };
}

const USAGE_OF: Partial<Record<Route['kind'], MediaUsageKind>> = {
  images_generations: 'openai-images',
  images_edits: 'openai-images',
  speech: 'openai-speech',
  transcriptions: 'openai-transcription',
  translations: 'openai-transcription',
};

export function mediaReaderFor(route: Route): MediaReader {
  return createMediaReader(USAGE_OF[route.kind] ?? 'openai-transcription');
}

/** The translator methods every media route shares. */
export const mediaExchange: Pick<Translator, 'prepare' | 'usageReader' | 'meter'> = {
  prepare: (request) => forwardAsSent(request),
  usageReader: mediaReaderFor,
  meter(end, reader, { target, bound, ts }) {
    // A free route, or one refused before its bound: nothing to charge.
    if (!bound.media) return { usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
    return meterMedia(end, reader as MediaReader, target.model, ts, bound.media.plan, bound.media.bound);
  },
};

/**
 * The partial images a request asks for, each billed as more output tokens when it streams:
 * reserved whether or not the gateway reads the request as a stream, since the upstream may read
 * `stream` otherwise (a string "true" in JSON, "1" or "True" in a form).
 */
export const partialImages = (fields: Record<string, unknown>): number =>
  countField(fields, 'partial_images', 0, [0, 3]);

/** A form or JSON field as text, or undefined; invalid_request naming it when it is another type. */
export function textField(fields: Record<string, unknown>, name: string): string | undefined {
  const v = fields[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new GatewayError('invalid_request', `the request's '${name}' must be a string.`);
}

/** A whole number in [min, max] (JSON number, or a form field's digits), else invalid_request naming it. */
export function countField(
  fields: Record<string, unknown>,
  name: string,
  dflt: number,
  range: [number, number],
): number {
  const v = fields[name];
  if (v === undefined || v === null || v === '') return dflt;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < range[0] || n > range[1]) {
    throw new GatewayError(
      'invalid_request',
      `the request's '${name}' must be a whole number from ${range[0]} to ${range[1]}.`,
    );
  }
  return n;
}

/** A form field's `true`, or JSON's true. */
export const truthy = (v: unknown): boolean => v === true || v === 'true';

/** Refuses a model that has no price for what this route bills. */
export function requirePrice(model: ModelConfig, ok: boolean, what: string, field: string): void {
  if (ok) return;
  throw new GatewayError(
    'invalid_request',
    `model '${model.name}' has no ${what} price, so tollgate cannot bound what this request costs; the gateway's owner can set ${field} on it in keys.yaml.`,
  );
}
