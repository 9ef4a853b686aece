import type { Request, Response } from 'express';

/**
 * `GET /` and `HEAD /` (express answers HEAD from the GET route): clients probe the base URL
 * (Claude Code sends `HEAD /`), and a person who opens it in a browser should land somewhere
 * useful. It says nothing about keys, config or spend: it answers without auth.
 */
export function rootHandler(info: { name: string; version: string }) {
  const links = { healthz: '/healthz', dashboard: '/dashboard', api: '/v1' };
  const json = JSON.stringify({ name: info.name, version: info.version, links });
  // The name and version come from package.json, but are escaped all the same.
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(info.name)}</title></head>
<body><h1>${esc(info.name)} ${esc(info.version)}</h1>
<p>An OpenAI- and Anthropic-compatible API gateway. The API is under <code>/v1</code>.</p>
<ul><li><a href="/healthz">/healthz</a></li><li><a href="/dashboard">/dashboard</a></li></ul>
</body></html>
`;
  return (req: Request, res: Response): void => {
    res.setHeader('cache-control', 'no-store');
    // Browsers ask for HTML first; SDKs, curl and probes get JSON.
    if (req.accepts(['application/json', 'text/html']) === 'text/html') res.type('html').send(html);
    else res.type('json').send(json);
  };
}
