import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { SessionStore } from '../store/types.js';

export type Role = 'admin' | 'viewer';

export interface Session {
  role: Role;
  /** Random id: names the session for sign-out and its CSRF token. */
  sid: string;
  /** Epoch ms after which the cookie is refused. */
  expiresAt: number;
}

export interface Sessions {
  /** The role a sign-in token grants, compared in constant time; null when it matches neither. */
  roleOf(token: string): Role | null;
  issue(role: Role): { session: Session; cookie: string };
  /**
   * The session a cookie value carries, or null when it is forged, expired, signed out here or its
   * token is gone. Does not ask the store: `check` does.
   */
  verify(cookie: string | undefined): Session | null;
  /** As `verify`, and also null when the session was signed out on any replica, before a restart too. */
  check(cookie: string | undefined): Promise<Session | null>;
  csrfToken(session: Session): string;
  checkCsrf(session: Session, given: unknown): boolean;
  /** Sign-out: the cookie is refused from now on, even if a copy of it survives, by every replica. */
  revoke(session: Session): Promise<void>;
  readonly ttlMs: number;
}

export const SESSION_COOKIE = 'tollgate_dashboard';
const DEFAULT_TTL_MS = 8 * 60 * 60 * 1000;

/**
 * Stateless signed sessions: `role.sid.expiresAt.mac`, the MAC keyed by a secret derived from
 * the role's own token. Every replica that has the same tokens accepts the same cookies, a
 * restart keeps people signed in, changing a token signs out everyone who used it, and a
 * viewer's cookie cannot be edited into an admin's (the admin secret signs admin cookies).
 * Sign-outs are the one piece of state: kept in the store, so that a signed-out cookie replayed
 * to another replica or after a restart is refused too (and in memory here, to skip the read).
 */
export function createSessions(opts: {
  adminToken?: string | undefined;
  viewerToken?: string | undefined;
  clock: Clock;
  store: SessionStore;
  ttlMs?: number;
}): Sessions {
  const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
  const tokens: Record<Role, string | undefined> = { admin: opts.adminToken, viewer: opts.viewerToken };
  const secrets: Partial<Record<Role, Buffer>> = {};
  for (const role of ['admin', 'viewer'] as const) {
    const t = tokens[role];
    if (t) secrets[role] = createHmac('sha256', t).update(`tollgate dashboard session v1 ${role}`).digest();
  }
  const revoked = new Map<string, number>();

  const mac = (role: Role, payload: string): string | null => {
    const secret = secrets[role];
    return secret ? createHmac('sha256', secret).update(payload).digest('base64url') : null;
  };

  const remember = (sid: string, expiresAt: number) => {
    const now = opts.clock();
    for (const [s, exp] of revoked) if (exp <= now) revoked.delete(s);
    revoked.set(sid, expiresAt);
  };

  const sessions: Sessions = {
    ttlMs,
    roleOf(token) {
      // Digests have equal length, so neither the comparison nor its length check leaks the token.
      const given = sha256(token);
      let match: Role | null = null;
      for (const role of ['viewer', 'admin'] as const) {
        const t = tokens[role];
        if (t && timingSafeEqual(given, sha256(t))) match = role;
      }
      return match;
    },
    issue(role) {
      const session: Session = {
        role,
        sid: randomBytes(18).toString('base64url'),
        expiresAt: opts.clock() + ttlMs,
      };
      const payload = `${role}.${session.sid}.${session.expiresAt}`;
      const sig = mac(role, payload);
      if (!sig) throw new Error(`no ${role} token is set`);
      return { session, cookie: `${payload}.${sig}` };
    },
    verify(cookie) {
      if (!cookie) return null;
      const parts = cookie.split('.');
      if (parts.length !== 4) return null;
      const [role, sid, exp, sig] = parts as [string, string, string, string];
      if (role !== 'admin' && role !== 'viewer') return null;
      const expected = mac(role, `${role}.${sid}.${exp}`);
      if (!expected || !safeEqual(expected, sig)) return null;
      const expiresAt = Number(exp);
      const now = opts.clock();
      if (!Number.isSafeInteger(expiresAt) || now >= expiresAt || revoked.has(sid)) return null;
      return { role, sid, expiresAt };
    },
    csrfToken(session) {
      return mac(session.role, `csrf.${session.sid}`) ?? '';
    },
    checkCsrf(session, given) {
      const expected = mac(session.role, `csrf.${session.sid}`);
      return typeof given === 'string' && expected !== null && safeEqual(expected, given);
    },
    async check(cookie) {
      const session = sessions.verify(cookie);
      if (!session) return null;
      if (!(await opts.store.isSessionRevoked(session.sid))) return session;
      remember(session.sid, session.expiresAt);
      return null;
    },
    async revoke(session) {
      remember(session.sid, session.expiresAt);
      await opts.store.revokeSession(session.sid, session.expiresAt, opts.clock());
    },
  };
  return sessions;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
