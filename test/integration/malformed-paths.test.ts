import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { ADMIN_TOKEN, csrfOf, get, signIn } from '../helpers/dashboard-client.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

/** Paths with a malformed percent-escape, as a scanner or a mangled link sends them. */

const key = mintKey();
let gw: TestServer;
const BAD = ['%E0%A4%A', '%', '%zz', '%C0%80', 'a%ED%A0%80b'];

beforeAll(async () => {
  gw = await startTestServer({
    yaml: `version: 1\nkeys:\n  cursor-dev: { hash: ${hashKey(key)} }\n`,
    env: { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN },
  });
});
afterAll(async () => {
  await gw.close();
});

const errorLines = () => gw.logs.filter((l) => /"level":(50|60)/.test(l));

describe('a malformed percent-escape in a path', () => {
  it('answers 400 on every dashboard page, export and form, and logs no error', async () => {
    const cookie = await signIn(gw.url, ADMIN_TOKEN);
    const csrf = csrfOf((await get(gw.url, '/dashboard/keys/cursor-dev', cookie)).body);
    for (const bad of BAD) {
      for (const path of ['', '/requests.csv', '/audit.csv']) {
        const page = await get(gw.url, `/dashboard/keys/${bad}${path}`, cookie);
        expect(page.status, `${bad}${path}`).toBe(400);
        expect(page.body).toContain('That address is malformed');
      }
      for (const verb of ['disable', 'enable']) {
        const res = await fetch(`${gw.url}/dashboard/keys/${bad}/${verb}`, {
          method: 'POST',
          redirect: 'manual',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf, reason: 'x' }).toString(),
        });
        expect(res.status, `${bad}/${verb}`).toBe(400);
      }
    }
    expect(errorLines()).toEqual([]);
  });

  it('answers 400 invalid_request on the admin API and 404 elsewhere, and logs no error', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    for (const bad of BAD) {
      const one = await fetch(`${gw.url}/admin/keys/${bad}`, { headers: auth });
      expect(one.status, bad).toBe(400);
      expect(((await one.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
      for (const verb of ['disable', 'enable']) {
        const res = await fetch(`${gw.url}/admin/keys/${bad}/${verb}`, { method: 'POST', headers: auth });
        expect(res.status, `${bad}/${verb}`).toBe(400);
      }
      for (const path of [`/${bad}`, `/v1/${bad}`, `/v1/chat/completions/${bad}`]) {
        const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
        expect([400, 404], path).toContain(res.status);
      }
    }
    expect(errorLines()).toEqual([]);
  });
});
