/** The upstream URL of a route: the upstream's base (which includes /v1) plus the path after /v1, query kept. */
export function upstreamUrl(baseUrl: string, pathname: string, rawUrl: string): URL {
  const q = rawUrl.indexOf('?');
  const search = q < 0 ? '' : rawUrl.slice(q);
  return new URL(`${baseUrl.replace(/\/+$/, '')}${pathname.slice('/v1'.length)}${search}`);
}
