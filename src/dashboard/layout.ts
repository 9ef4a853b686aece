import { createHash } from 'node:crypto';
import type { Response } from 'express';
import { type HtmlValue, html, type SafeHtml, trusted } from './html.js';
import type { Session } from './session.js';
import { STYLES } from './styles.js';

const STYLE_HASH = createHash('sha256').update(STYLES).digest('base64');

/**
 * No script at all, styles only from the inline sheet, forms only to this origin, no framing: even
 * markup that slipped past escaping could neither run nor post elsewhere.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export interface PageHeader {
  session: Session;
  csrf: string;
  revision: string;
  /** Shown in the header: `loaded 2026-11-26 09:00`, or the failed reload. */
  configNote: HtmlValue;
}

export function page(title: string, body: HtmlValue, header?: PageHeader): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · tollgate</title>
<style>${trusted(STYLES)}</style></head>
<body>${header ? topBar(header) : ''}<main>${body}</main></body></html>`;
}

function topBar(h: PageHeader): SafeHtml {
  return html`<header class="top">
  <a class="brand" href="/dashboard">tollgate</a>
  <div class="meta"><span>config <code>${h.revision}</code></span>${h.configNote}</div>
  <div class="who"><span class="badge ${h.session.role}">${h.session.role}</span>
    <form method="post" action="/dashboard/sign-out"><input type="hidden" name="csrf" value="${h.csrf}"><button type="submit">Sign out</button></form>
  </div>
</header>`;
}

/** Security headers for every dashboard answer, pages and CSV alike. */
export function secureHeaders(res: Response): void {
  res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('cache-control', 'no-store');
}

export function sendPage(res: Response, status: number, markup: SafeHtml): void {
  res.status(status).type('html').send(markup.value);
}
