import type { NextFunction, Request, Response } from 'express';
import { SESSION_COOKIE, type Session, type Sessions } from './session.js';

/** The session of a request that passed `requireSession`. */
export function sessionOf(res: Response): Session {
  return res.locals.session as Session;
}

export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Secure when the request reached us (or the TLS-terminating proxy in front) over HTTPS. */
export function cameOverHttps(req: Request): boolean {
  const proto = String(req.headers['x-forwarded-proto'] ?? '')
    .split(',')[0]
    ?.trim()
    .toLowerCase();
  return proto === 'https' || Boolean((req.socket as { encrypted?: boolean }).encrypted);
}

export function sessionCookie(req: Request, value: string, maxAgeSec: number): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/dashboard',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${maxAgeSec}`,
    ...(cameOverHttps(req) ? ['Secure'] : []),
  ].join('; ');
}

/** Only a dashboard path may follow sign-in: never another site (an open redirect). */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string') return '/dashboard';
  const ok = /^\/dashboard(?:[/?#][^\\\s]*)?$/.test(next) && !next.startsWith('/dashboard//');
  return ok ? next : '/dashboard';
}

/**
 * Every dashboard route but sign-in: a browser without a valid session is sent to the sign-in
 * page (and back here afterwards), anything else gets 401.
 */
export function requireSession(sessions: Sessions) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    // A store that cannot say whether the session was signed out fails closed (the error page).
    const session = await sessions.check(readCookie(req, SESSION_COOKIE));
    if (session) {
      res.locals.session = session;
      next();
      return;
    }
    const wantsHtml = String(req.headers.accept ?? '').includes('text/html');
    if (wantsHtml) {
      // A form posted after the session ended is not replayed after sign-in: it goes back to the page.
      const isRead = req.method === 'GET' || req.method === 'HEAD';
      const back = isRead ? safeNext(req.originalUrl) : '/dashboard';
      res.redirect(
        303,
        `/dashboard/sign-in${back === '/dashboard' ? '' : `?next=${encodeURIComponent(back)}`}`,
      );
      return;
    }
    res.status(401).json({
      error: {
        message:
          'dashboard: sign in at /dashboard/sign-in with TOLLGATE_DASHBOARD_TOKEN or TOLLGATE_ADMIN_TOKEN.',
        type: 'invalid_request_error',
        code: 'unauthorized',
        param: null,
      },
    });
  };
}
