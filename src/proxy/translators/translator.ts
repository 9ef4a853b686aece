import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { KeyConfig } from '../../config/types.js';
import type { MediaPlan } from '../../metering/media-meter.js';
import type { MediaBound } from '../../metering/media-prices.js';
import type { ExchangeEnd, Metered } from '../../metering/meter.js';
import type { UsageReader } from '../../metering/usage-reader.js';
import type { OutputFitter } from '../../policy/fit-output.js';
import type { ModelRoute } from '../../policy/model-access.js';
import type { OutputPlan } from '../../policy/output-cap.js';
import type { WebSearchTools } from '../../pricing/search-fees.js';
import type { PreparedBody } from '../prepare-body.js';
import type { Route } from '../routes.js';
import type { UploadHold } from '../upload-holds.js';

/**
 * The seam between the request path and one wire format (Envoy AI Gateway's translators): the
 * stages (src/proxy/stages/) never look at a route's kind, they ask the route's translator how
 * to read its body, how much it may cost at most, what to send upstream and how to read the
 * usage back. A new route adds an entry to translators/table.ts (a new wire format, such as a
 * multipart image or audio upload, adds a translator of its own beside json.ts), not an
 * `if (route.kind === …)` in policy or metering.
 */
export interface Translator {
  /** The body as the gateway reads it, or invalid_request when it is not one. */
  parse(raw: Buffer, headers: IncomingHttpHeaders): WireRequest;
  /**
   * Refuses (invalid_request) a request the gateway could not meter or bound. Runs after the
   * body named its model and before that model is checked, so the refusal records the name.
   */
  check(request: WireRequest, route: Route, key: KeyConfig): void;
  /** The most the request can cost, as the reservation pays for it (its input, output and tools). */
  bound(request: WireRequest, at: BoundContext): RequestBound;
  /** The bytes to send upstream, with the bounds the reservation paid for written in. */
  prepare(request: WireRequest, route: Route, plan: OutputPlan, bound: RequestBound): PreparedBody;
  /** Reads the usage the upstream reports in its response (JSON or SSE). */
  usageReader(route: Route): UsageReader;
  /**
   * Reads the body itself, as it arrives (a multipart upload: media-upload.ts); without it the
   * stage reads the whole body and calls `parse`.
   */
  read?(req: IncomingMessage, route: Route, hold?: UploadHold): Promise<WireRequest>;
  /** Meters the exchange itself (images and audio: metering/media-meter.ts); without it, meterExchange. */
  meter?(end: ExchangeEnd, reader: UsageReader, at: MeterContext): Metered;
}

export interface MeterContext {
  target: ModelRoute;
  bound: RequestBound;
  /** USD the reservation holds. */
  reservedUsd: number;
  ts: number;
}

/** A multipart upload as it arrived, forwarded as it is (proxy/multipart.ts). */
export interface Upload {
  /** Its content type, boundary included, as the client sent it. */
  contentType: string;
  /** The body's chunks as they arrived; forwarding empties each slot once sent (proxy/forward.ts). */
  chunks: Buffer[];
  size: number;
  /** Files by form field name, with their sizes. */
  files: ReadonlyArray<{ field: string; bytes: number; mimeType: string; sha256?: string | undefined }>;
  /** The duration read from the audio file, when it is audio and says. */
  seconds?: number;
}

/** One request body, read and parsed. */
export interface WireRequest {
  /** The bytes the client sent: forwarded as they are when nothing has to change. */
  raw: Buffer;
  /** The body's fields (a JSON object; a multipart body's text fields). */
  fields: Record<string, unknown>;
  /** The `model` the body names (not yet checked). */
  model: unknown;
  /** The client asked for a stream. */
  stream: boolean;
  /** A multipart body, held as it arrived (then `raw` is empty). */
  upload?: Upload;
}

export interface BoundContext {
  route: Route;
  key: KeyConfig;
  target: ModelRoute;
  /** The `model` the body named, as recorded (a model's alias may say more than its config name). */
  requestedModel: string | undefined;
  headers: IncomingHttpHeaders;
  /** Prices are those in force at this instant. */
  ts: number;
}

/** What the reservation must cover. */
export interface RequestBound {
  /** Input tokens estimated from the body (what tpm counts, beside the output bound). */
  inputEstimate: number;
  /** The request may be billed for reasoning it does not show as text (hidden-output.ts). */
  mayReason: boolean;
  /** It asks for Anthropic's US-only inference, billed at 1.1 x the model's prices (pricing/uplift.ts). */
  usOnly?: boolean;
  /**
   * It asks for a 1-hour cache write: where the answer's usage does not split writes by TTL (the
   * reader's `splitsCacheTtl`), every write is charged at the 1-hour price (pricing/cache-ttl.ts).
   */
  hourCache?: boolean;
  /** The Responses web search tools it lists, which set the per-search fee (pricing/search-fees.ts). */
  webSearchTools?: WebSearchTools;
  /** The output plan and its maximum cost, lowered to fit a budget where the gateway chose it. */
  fitter: OutputFitter;
  /** Why the maximum cost is what it is, for a refusal, when the body does not show it. */
  why?: string;
  /** Body fields written to bound what the provider bills per use (server tools); undefined leaves one out. */
  set?: Record<string, unknown>;
  /** Hosted tools taken out of the request because tollgate does not meter them (x-tollgate-tools-removed). */
  toolsRemoved?: string[];
  /** An image or audio request: what it asks, and the most it can cost (metering/media-prices.ts). */
  media?: { plan: MediaPlan; bound: MediaBound };
}
