import { describe, expect, it } from 'vitest';
import { createSessions } from '../../../src/dashboard/session.js';

const ADMIN = 'admin-token-0123456789abcdef0123456789ab';
const VIEWER = 'viewer-token-0123456789abcdef0123456789';

function sessions(now = { t: 1_000_000 }) {
  return createSessions({ adminToken: ADMIN, viewerToken: VIEWER, clock: () => now.t, ttlMs: 60_000 });
}

describe('dashboard sessions', () => {
  it('grants the role of the token that matches, and nothing for any other string', () => {
    const s = sessions();
    expect(s.roleOf(ADMIN)).toBe('admin');
    expect(s.roleOf(VIEWER)).toBe('viewer');
    for (const wrong of ['', ADMIN.slice(0, -1), `${VIEWER} `, ADMIN.toUpperCase()])
      expect(s.roleOf(wrong)).toBeNull();
    const viewerOnly = createSessions({ viewerToken: VIEWER, clock: () => 0 });
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
    const other = createSessions({ viewerToken: `${VIEWER}-rotated`, clock: () => 1_000_000 });
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

  it('refuses a cookie after sign-out, other sessions unaffected', () => {
    const s = sessions();
    const one = s.issue('admin');
    const two = s.issue('admin');
    s.revoke(one.session);
    expect(s.verify(one.cookie)).toBeNull();
    expect(s.verify(two.cookie)).not.toBeNull();
  });
});
