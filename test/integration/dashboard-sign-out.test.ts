import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { ADMIN_TOKEN, csrfOf, get, postForm, signIn } from '../helpers/dashboard-client.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

/**
 * Sign-out is kept in the store: a signed-out admin cookie replayed to another replica, or after a
 * restart, is refused (it was accepted for the rest of its 8 hours, and could enable a key).
 */

const YAML = `version: 1\nkeys:\n  cursor-dev: { hash: ${hashKey(mintKey())} }\n`;
const start = (store: string) =>
  startTestServer({ yaml: YAML, store, env: { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN } });

/** Whether the cookie opens a page, and where pressing Disable key with its CSRF token leads. */
async function admitted(gw: TestServer, cookie: string, csrf: string) {
  const page = await get(gw.url, '/dashboard/keys/cursor-dev', cookie);
  const disable = await postForm(
    gw.url,
    '/dashboard/keys/cursor-dev/disable',
    { csrf, reason: 'replayed' },
    cookie,
  );
  return { page: page.status, disable: disable.headers.get('location') };
}

/** Sent to sign in, and the form not acted on. */
const REFUSED = { page: 303, disable: '/dashboard/sign-in' };

describe('a signed-out dashboard cookie, replayed', () => {
  let db: TestDatabase;
  const running: TestServer[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(running.map((r) => r.close()));
    await db?.drop();
  });

  it('is refused by every PostgreSQL replica and after a restart', async () => {
    const [a, b] = await Promise.all([start(db.url), start(db.url)]);
    running.push(a as TestServer, b as TestServer);
    const cookie = await signIn(a!.url, ADMIN_TOKEN);
    const page = await get(b!.url, '/dashboard/keys/cursor-dev', cookie);
    expect(page.status).toBe(200);
    const csrf = csrfOf(page.body);

    const out = await postForm(a!.url, '/dashboard/sign-out', { csrf }, cookie);
    expect(out.status).toBe(303);
    expect(await admitted(a!, cookie, csrf)).toEqual(REFUSED);
    expect(await admitted(b!, cookie, csrf)).toEqual(REFUSED);

    // A restart (a replica that never saw the sign-out in memory).
    await b!.close();
    running.splice(running.indexOf(b!), 1);
    const c = await start(db.url);
    running.push(c);
    expect(await admitted(c, cookie, csrf)).toEqual(REFUSED);
    expect(c.server.deps.disables.get('cursor-dev')).toBeUndefined();
    expect(await c.server.deps.store.listDisabled()).toEqual(new Map());
    // Signing in again works, on any replica.
    expect((await get(c.url, '/dashboard', await signIn(a!.url, ADMIN_TOKEN))).status).toBe(200);
  });

  it('is refused after a restart on SQLite', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tollgate-sign-out-'));
    try {
      const store = `sqlite:${join(dir, 'tollgate.db')}`;
      const first = await start(store);
      const cookie = await signIn(first.url, ADMIN_TOKEN);
      const csrf = csrfOf((await get(first.url, '/dashboard', cookie)).body);
      expect((await postForm(first.url, '/dashboard/sign-out', { csrf }, cookie)).status).toBe(303);
      await first.close();
      const second = await start(store);
      try {
        expect(await admitted(second, cookie, csrf)).toEqual(REFUSED);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
