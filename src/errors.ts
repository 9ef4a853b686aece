import { maskSecrets } from './keys/mask-secrets.js';

/**
 * The one error type of tollgate. Every refusal the gateway makes is a GatewayError whose
 * `code` is one of the stable strings of docs/api.md#errors; status and OpenAI `type` come from the table.
 */
export const ERROR_TABLE = {
  invalid_api_key: { status: 401, type: 'invalid_request_error' },
  key_disabled: { status: 401, type: 'invalid_request_error' },
  key_expired: { status: 401, type: 'invalid_request_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  model_not_allowed: { status: 403, type: 'permission_error' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  insufficient_quota: { status: 429, type: 'insufficient_quota' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  upstream_error: { status: 502, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'api_error' },
  upstream_not_configured: { status: 503, type: 'api_error' },
  store_unavailable: { status: 503, type: 'api_error' },
  unauthorized: { status: 401, type: 'invalid_request_error' },
  internal_error: { status: 500, type: 'api_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

/** Anthropic's error `type` for each HTTP status, used on /v1/messages. */
const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'overloaded_error',
  504: 'api_error',
};

export interface GatewayErrorOptions {
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;
  /** The underlying cause: logged, never sent. */
  cause?: unknown;
  /** `insufficient_quota`: the budget window that refused (a period as the store names it). */
  refusedPeriod?: string;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly headers: Record<string, string>;
  readonly refusedPeriod: string | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERROR_TABLE[code].status;
    this.type = ERROR_TABLE[code].type;
    this.headers = options.headers ?? {};
    this.refusedPeriod = options.refusedPeriod;
  }
}

/** Turns anything thrown into a GatewayError; unknown errors become `internal_error`. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  // express decodes route parameters with decodeURIComponent: a malformed percent-escape in a
  // path (`/dashboard/keys/%E0%A4%A`) is the client's mistake, not an internal error.
  if (err instanceof URIError) {
    return new GatewayError(
      'invalid_request',
      'the path has a malformed percent-escape (% and two hex digits forming valid UTF-8); encode names with encodeURIComponent.',
    );
  }
  return new GatewayError(
    'internal_error',
    'tollgate hit an internal error; the request was not forwarded.',
    {
      cause: err,
    },
  );
}

export type ErrorShape = 'openai' | 'anthropic';

/** The JSON body of an error response, OpenAI- or Anthropic-shaped. */
export function errorBody(err: GatewayError, shape: ErrorShape): unknown {
  // A message may quote what the client sent (its path, its model): never a whole key back.
  const message = maskSecrets(err.message);
  if (shape === 'anthropic') {
    return {
      type: 'error',
      error: { type: ANTHROPIC_TYPES[err.status] ?? 'api_error', message, code: err.code },
    };
  }
  return { error: { message, type: err.type, code: err.code, param: null } };
}
