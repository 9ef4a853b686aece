import { urlToHttpOptions } from 'node:url';

/** Where a request goes: the parts http.request takes, parsed once per upstream base URL. */
export interface UpstreamTarget {
  https: boolean;
  hostname: string;
  port: number | undefined;
  auth: string | undefined;
  path: string;
}

interface Base {
  https: boolean;
  hostname: string;
  port: number | undefined;
  auth: string | undefined;
  basePath: string;
}

const bases = new Map<string, Base>();

function parseBase(baseUrl: string): Base {
  const url = new URL(baseUrl);
  // urlToHttpOptions strips an IPv6 host's brackets and decodes user:password.
  const o = urlToHttpOptions(url);
  return {
    https: url.protocol === 'https:',
    hostname: o.hostname ?? 'localhost',
    port: url.port === '' ? undefined : Number(url.port),
    auth: o.auth ?? undefined,
    basePath: url.pathname.replace(/\/+$/, ''),
  };
}

/**
 * The upstream target of a route: the upstream's base (which includes /v1) plus the path after
 * /v1, query kept as the client sent it. Base URLs come from the config, so the cache stays small
 * (it is emptied if a long run of reloads ever fills it).
 */
export function upstreamUrl(baseUrl: string, pathname: string, rawUrl: string): UpstreamTarget {
  let base = bases.get(baseUrl);
  if (!base) {
    if (bases.size >= 256) bases.clear();
    base = parseBase(baseUrl);
    bases.set(baseUrl, base);
  }
  const q = rawUrl.indexOf('?');
  const search = q < 0 ? '' : rawUrl.slice(q);
  return {
    https: base.https,
    hostname: base.hostname,
    port: base.port,
    auth: base.auth,
    path: `${base.basePath}${pathname.slice('/v1'.length)}${search}`,
  };
}
