import type { WireFormat } from '../config/types.js';
import type { ErrorShape } from '../errors.js';
import type { RouteKind } from '../metering/route-kind.js';
import type { UsageKind } from '../metering/usage-reader.js';

export interface Route {
  kind: RouteKind;
  method: 'GET' | 'POST';
  path: string;
  /** The wire format of the request and response on this route (and so of its errors). */
  format: WireFormat;
  usage: UsageKind;
  /** The body field that caps output on this route; undefined when the route produces no output tokens. */
  outputField?: string;
  /** The upstream does not charge for it (count_tokens): no reservation, cost 0. */
  free: boolean;
  /** OpenAI streams that report usage only when asked with `stream_options.include_usage`. */
  injectIncludeUsage: boolean;
}

/** The routes of docs/api.md#routes. Nothing else under /v1 reaches an upstream. */
const ROUTES: Route[] = [
  {
    kind: 'chat',
    method: 'POST',
    path: '/v1/chat/completions',
    format: 'openai',
    usage: 'openai-chat',
    outputField: 'max_completion_tokens',
    free: false,
    injectIncludeUsage: true,
  },
  {
    kind: 'completions',
    method: 'POST',
    path: '/v1/completions',
    format: 'openai',
    usage: 'openai-chat',
    outputField: 'max_tokens',
    free: false,
    injectIncludeUsage: true,
  },
  {
    kind: 'embeddings',
    method: 'POST',
    path: '/v1/embeddings',
    format: 'openai',
    usage: 'openai-embeddings',
    free: false,
    injectIncludeUsage: false,
  },
  {
    kind: 'responses',
    method: 'POST',
    path: '/v1/responses',
    format: 'openai',
    usage: 'openai-responses',
    outputField: 'max_output_tokens',
    free: false,
    injectIncludeUsage: false,
  },
  {
    kind: 'messages',
    method: 'POST',
    path: '/v1/messages',
    format: 'anthropic',
    usage: 'anthropic-messages',
    outputField: 'max_tokens',
    free: false,
    injectIncludeUsage: false,
  },
  {
    kind: 'count_tokens',
    method: 'POST',
    path: '/v1/messages/count_tokens',
    format: 'anthropic',
    usage: 'none',
    free: true,
    injectIncludeUsage: false,
  },
  {
    kind: 'models',
    method: 'GET',
    path: '/v1/models',
    format: 'openai',
    usage: 'none',
    free: true,
    injectIncludeUsage: false,
  },
  // Images and audio (docs/api.md#images-and-audio): their translators read the body and the usage.
  ...(
    [
      ['images_generations', '/v1/images/generations', false],
      ['images_edits', '/v1/images/edits', false],
      ['speech', '/v1/audio/speech', false],
      ['transcriptions', '/v1/audio/transcriptions', false],
      ['translations', '/v1/audio/translations', false],
      ['moderations', '/v1/moderations', true],
    ] as const
  ).map(
    ([kind, path, free]): Route => ({
      kind,
      method: 'POST',
      path,
      format: 'openai',
      usage: 'none',
      free,
      injectIncludeUsage: false,
    }),
  ),
];

const BY_PATH = new Map(ROUTES.map((r) => [`${r.method} ${r.path}`, r]));

export function matchRoute(method: string | undefined, pathname: string): Route | undefined {
  return BY_PATH.get(`${method ?? ''} ${pathname}`);
}

/** Errors are Anthropic-shaped on Anthropic's paths (404s under /v1/messages included), OpenAI-shaped elsewhere. */
export function errorShapeFor(pathname: string): ErrorShape {
  return pathname === '/v1/messages' || pathname.startsWith('/v1/messages/') ? 'anthropic' : 'openai';
}
