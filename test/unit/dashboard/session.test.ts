import { describe, expect, it } from 'vitest';
import { createSessions } from '../../../src/dashboard/session.js';
import type { SessionStore } from '../../../src/store/types.js';

const ADMIN = 'admin-token-0123456789abcdef0123456789ab';
const VIEWER = 'viewer-token-0123456789abcdef0123456789';

/** The store's sign-outs, as a map (the stores' own tests cover SQLite and PostgreSQL). */
function memoryStore(): SessionStore & { rows: Map<string, number> } {
  const rows = new Map<string, number>();
  return {
    rows,
    async revokeSession(sid, expiresAt, now) {
      for (const [s, exp] of rows) if (exp <= now) rows.delete(s);
      rows.set(sid, expiresAt);
    },
    async isSessionRevoked(sid) {
      return rows.has(sid);
    },
  };
}

function sessions(now = { t: 1_000_000 }, store: SessionStore = memoryStore()) {
  return createSessions({ adminToken: ADMIN, viewerToken: VIEWER, clock: () => now.t, ttlMs: 60_000, store });
}

describe('dashboard sessions', () => {
  it('grants the role of the token that matches, and nothing for any other string', () => {
    const s = sessions();
    expect(s.roleOf(ADMIN)).toBe('admin');
    expect(s.roleOf(VIEWER)).toBe('viewer');
    for (const wrong of ['', ADMIN.slice(0, -1), `${VIEWER} `, ADMIN.toUpperCase()])
      expect(s.roleOf(wrong)).toBeNull();
    const viewerOnly = createSessions({ viewerToken: VIEWER, clock: () => 0, store: memoryStore() });
    expect(viewerOnly.roleOf(ADMIN)).toBeNull();
    expect(() => viewerOnly.issue('admin')).toThrow();
  });

  it('accepts its own cookie until it expires', () => {
    const now = { t: 1_000_000 };
    const s = sessions(now);
    const { session, cookie } = s.issue('viewer');
    expect(s.verify(cookie)).toEqual(session);
    now.t += 59_999;
    expect(s.verify(cookie)).not.toBeNull();
    now.t += 1;
    expect(s.verify(cookie)).toBeNull();
  });

  it('refuses a cookie whose role, expiry or signature was changed, or that another token signed', () => {
    const s = sessions();
    const { cookie } = s.issue('viewer');
    const [role, sid, exp, sig] = cookie.split('.');
    expect(role).toBe('viewer');
    expect(s.verify(['admin', sid, exp, sig].join('.'))).toBeNull();
    expect(s.verify([role, sid, Number(exp) + 1, sig].join('.'))).toBeNull();
    expect(s.verify([role, `${sid}x`, exp, sig].join('.'))).toBeNull();
    expect(s.verify([role, sid, exp, `${sig}x`].join('.'))).toBeNull();
    expect(s.verify(undefined)).toBeNull();
    const other = createSessions({
      viewerToken: `${VIEWER}-rotated`,
      clock: () => 1_000_000,
      store: memoryStore(),
    });
    expect(other.verify(cookie)).toBeNull();
  });

  it("checks a form's CSRF token against its own session only", () => {
    const s = sessions();
    const a = s.issue('admin').session;
    const b = s.issue('admin').session;
    expect(s.checkCsrf(a, s.csrfToken(a))).toBe(true);
    expect(s.checkCsrf(a, s.csrfToken(b))).toBe(false);
    expect(s.checkCsrf(a, undefined)).toBe(false);
    expect(s.checkCsrf(a, ['x'])).toBe(false);
  });

  it('refuses a cookie after sign-out, other sessions unaffected', async () => {
    const s = sessions();
    const one = s.issue('admin');
    const two = s.issue('admin');
    await s.revoke(one.session);
    expect(s.verify(one.cookie)).toBeNull();
    expect(await s.check(one.cookie)).toBeNull();
    expect(await s.check(two.cookie)).not.toBeNull();
  });

  it('refuses a cookie signed out through another instance sharing the store (another replica, a restart)', async () => {
    const now = { t: 1_000_000 };
    const store = memoryStore();
    const here = sessions(now, store);
    const there = sessions(now, store);
    const { session, cookie } = here.issue('admin');
    expect(await there.check(cookie)).toEqual(session);
    await here.revoke(session);
    expect(there.verify(cookie)).toEqual(session);
    expect(await there.check(cookie)).toBeNull();
    // The store forgets a sign-out once its session has expired anyway.
    now.t += 60_000;
    await here.revoke(here.issue('viewer').session);
    expect(store.rows.has(session.sid)).toBe(false);
  });
});
