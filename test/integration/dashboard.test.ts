import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/commands/io.js';
import { usage } from '../../src/commands/usage.js';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { formulaCells, parseCsv } from '../helpers/csv-parse.js';
import { ADMIN_TOKEN, csrfOf, get, postForm, signIn, VIEWER_TOKEN } from '../helpers/dashboard-client.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';
import { ADMIN, ALERT_CHANNEL } from '../helpers/slack-config.js';

/**
 * The dashboard against the real server: sessions, roles, CSRF, the kill switch reaching the
 * proxy and Slack, escaping of user text, and CSV exports. (The browser test drives it with
 * Chromium; these run without one.)
 */

const HOSTILE = `<script>alert("pwned")</script> & 'quoted'`;
const cursorKey = mintKey();
const webuiKey = mintKey();
const PROMPT = 'the secret prompt text 7f3a';
let upstream: FakeUpstream;
let slack: FakeSlack;
let gw: TestServer;
let now = Date.now();

function yaml(extra = ''): string {
  return `${[
    'version: 1',
    'upstreams:',
    '  fake:',
    `    base_url: ${upstream.baseUrl}`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: keys.yaml's literal `${ENV}` reference syntax
    '    api_key: ${FAKE_KEY}',
    'models:',
    '  small: { upstream: fake, input_per_mtok: 1, output_per_mtok: 2, max_output_tokens: 100 }',
    'keys:',
    '  cursor-dev:',
    `    hash: ${hashKey(cursorKey)}`,
    `    description: ${JSON.stringify(HOSTILE)}`,
    '    owner: alice',
    '    tags: { team: platform }',
    '    limits: { daily_usd: 0.002, monthly_usd: 1, rpm: 1000 }',
    '  open-webui:',
    `    hash: ${hashKey(webuiKey)}`,
    '    limits: { daily_usd: 0.0015, rpm: 1000 }',
    '  old-script:',
    `    hash: ${hashKey(mintKey())}`,
    '    disabled: true',
    'slack:',
    `  channel: ${ALERT_CHANNEL}`,
    `  admins: [${ADMIN}]`,
    extra,
  ].join('\n')}\n`;
}

function chat(key: string, userAgent = 'Cursor/1.0') {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': userAgent },
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: PROMPT }], max_tokens: 10 }),
  });
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  slack = await startFakeSlack();
  gw = await startTestServer({
    yaml: yaml(),
    clock: () => now,
    env: {
      FAKE_KEY: 'sk-upstream-never-shown',
      TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      TOLLGATE_DASHBOARD_TOKEN: VIEWER_TOKEN,
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: 'dashboard-test-secret',
      SLACK_API_URL: slack.apiUrl,
    },
  });
  // One request each: cursor-dev at 94.5% of its daily limit (amber), open-webui past it (red).
  expect((await chat(cursorKey, HOSTILE)).status).toBe(200);
  expect((await chat(webuiKey, 'OpenWebUI/0.6')).status).toBe(200);
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await slack?.close();
});

describe('dashboard sessions', () => {
  it('sends a browser without a session to the sign-in page and answers 401 to anything else', async () => {
    for (const path of [
      '/dashboard',
      '/dashboard/keys/cursor-dev',
      '/dashboard/usage.csv',
      '/dashboard/keys/cursor-dev/requests.csv',
      '/dashboard/nothing-here',
    ]) {
      const browser = await get(gw.url, path);
      expect(browser.status, path).toBe(303);
      expect(browser.headers.get('location'), path).toMatch(/^\/dashboard\/sign-in/);
      expect(browser.body).not.toContain('alice');
      const script = await get(gw.url, path, undefined, 'application/json');
      expect(script.status, path).toBe(401);
      expect(JSON.parse(script.body).error.code).toBe('unauthorized');
    }
    const post = await postForm(gw.url, '/dashboard/keys/cursor-dev/disable', { reason: 'x' });
    expect(post.status).toBe(303);
    expect(post.headers.get('location')).toBe('/dashboard/sign-in');
    const script = await postForm(gw.url, '/dashboard/keys/cursor-dev/disable', { reason: 'x' }, undefined, {
      accept: 'application/json',
    });
    expect(script.status).toBe(401);
    expect(gw.server.deps.disables.get('cursor-dev')).toBeUndefined();
  });

  it('sends the browser back where it was going after sign-in, never to another site', async () => {
    const first = await get(gw.url, '/dashboard/keys/open-webui?requests_sort=cost');
    const signInPage = await get(gw.url, first.headers.get('location') ?? '');
    expect(signInPage.status).toBe(200);
    expect(signInPage.body).toContain('name="next" value="/dashboard/keys/open-webui?requests_sort=cost"');
    const back = await postForm(gw.url, '/dashboard/sign-in', {
      token: VIEWER_TOKEN,
      next: '/dashboard/keys/open-webui?requests_sort=cost',
    });
    expect(back.headers.get('location')).toBe('/dashboard/keys/open-webui?requests_sort=cost');
    for (const next of [
      'https://evil.example/',
      '//evil.example/x',
      '/dashboard//evil.example',
      '/admin/keys',
    ]) {
      const r = await postForm(gw.url, '/dashboard/sign-in', { token: VIEWER_TOKEN, next });
      expect(r.headers.get('location'), next).toBe('/dashboard');
    }
  });

  it('signs in with either token into an httpOnly SameSite=Strict cookie and refuses a wrong token', async () => {
    const wrong = await postForm(gw.url, '/dashboard/sign-in', { token: `${ADMIN_TOKEN}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(wrong.body).toContain('neither the dashboard token nor the admin token');

    const ok = await postForm(gw.url, '/dashboard/sign-in', { token: VIEWER_TOKEN });
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(
      /^tollgate_dashboard=[^;]+; Path=\/dashboard; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    expect(cookie).not.toContain(VIEWER_TOKEN);

    const https = await postForm(gw.url, '/dashboard/sign-in', { token: ADMIN_TOKEN }, undefined, {
      'x-forwarded-proto': 'https',
    });
    expect(https.headers.get('set-cookie')).toMatch(/; Secure$/);
  });

  it('refuses a forged, edited or expired cookie', async () => {
    const viewer = await signIn(gw.url, VIEWER_TOKEN);
    expect((await get(gw.url, '/dashboard', viewer)).status).toBe(200);
    const [name, value = ''] = viewer.split('=');
    const parts = value.split('.');
    const forged = [
      `${name}=admin.${parts.slice(1).join('.')}`,
      `${name}=${parts.slice(0, 2).join('.')}.${Number(parts[2]) + 3_600_000}.${parts[3]}`,
      `${name}=viewer.abc.99999999999999.${'A'.repeat(43)}`,
      `${name}=garbage`,
    ];
    for (const cookie of forged) expect((await get(gw.url, '/dashboard', cookie)).status, cookie).toBe(303);

    now += 8 * 3_600_000 + 1;
    try {
      expect((await get(gw.url, '/dashboard', viewer)).status).toBe(303);
    } finally {
      now -= 8 * 3_600_000 + 1;
    }
  });

  it('signs out: the same cookie is refused afterwards', async () => {
    const cookie = await signIn(gw.url, VIEWER_TOKEN);
    const page = await get(gw.url, '/dashboard', cookie);
    const noCsrf = await postForm(gw.url, '/dashboard/sign-out', {}, cookie);
    expect(noCsrf.status).toBe(403);
    const out = await postForm(gw.url, '/dashboard/sign-out', { csrf: csrfOf(page.body) }, cookie);
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^tollgate_dashboard=; .*Max-Age=0/);
    expect((await get(gw.url, '/dashboard', cookie)).status).toBe(303);
  });
});

describe('dashboard pages', () => {
  it('shows spend per key against its limits, amber and red at the alert thresholds', async () => {
    const cookie = await signIn(gw.url, VIEWER_TOKEN);
    const page = await get(gw.url, '/dashboard', cookie);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    const row = (name: string) => {
      const start = page.body.indexOf(`<a href="/dashboard/keys/${name}">`, page.body.indexOf('id="keys"'));
      return page.body.slice(start, page.body.indexOf('</tr>', start));
    };
    // 1,000 uncached + 200 cached input tokens at $1/M and 345 output at $2/M: $0.00189.
    expect(row('cursor-dev')).toContain('$0.0019');
    expect(row('cursor-dev')).toContain('95% of $0.0020');
    expect(row('cursor-dev')).toContain('meter warn');
    expect(row('open-webui')).toContain('meter over');
    expect(row('old-script')).toContain('disabled in keys.yaml');
    expect(page.body).toMatch(/open-webui<\/a> <span class="level-over">at or over its daily limit/);
    expect(page.body).toContain('Spend per day by key');
    expect(page.body).toMatch(/<svg class="wide"[^>]*role="img"/);
    expect(page.body).toContain(`config <code>${gw.server.deps.config.current().revision}</code>`);
  });

  it('sorts tables on the server from query parameters', async () => {
    const cookie = await signIn(gw.url, VIEWER_TOKEN);
    const order = async (q: string) => {
      const body = (await get(gw.url, `/dashboard?${q}`, cookie)).body;
      const table = body.slice(body.indexOf('id="keys"'), body.indexOf('id="models"'));
      return [...table.matchAll(/<td class="" data-label="Key"><a href="\/dashboard\/keys\/([^"]+)"/g)].map(
        (m) => m[1],
      );
    };
    expect(await order('keys_sort=key&keys_dir=asc')).toEqual(['cursor-dev', 'old-script', 'open-webui']);
    expect(await order('keys_sort=key&keys_dir=desc')).toEqual(['open-webui', 'old-script', 'cursor-dev']);
    expect((await order('keys_sort=status&keys_dir=desc'))[0]).toBe('old-script');
    expect((await order('keys_sort=status&keys_dir=asc'))[2]).toBe('old-script');
  });

  it("shows a key's limits, what is left, its requests and facts, and never a key or a prompt", async () => {
    const cookie = await signIn(gw.url, ADMIN_TOKEN);
    const page = await get(gw.url, '/dashboard/keys/cursor-dev', cookie);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<dt>Owner</dt><dd>alice</dd>');
    expect(page.body).toContain('team: platform');
    expect(page.body).toContain('$0.0001'); // left of $0.002 after $0.00189
    expect(page.body).toContain('small');
    expect(page.body).toContain('1,200');
    expect(page.body).toContain('provider');
    expect(page.body).toContain('127.0.0.1');
    for (const secret of [
      cursorKey,
      webuiKey,
      'sk-upstream-never-shown',
      PROMPT,
      ADMIN_TOKEN,
      VIEWER_TOKEN,
    ]) {
      expect(page.body).not.toContain(secret);
    }
    expect((await get(gw.url, '/dashboard/keys/nope', cookie)).status).toBe(404);
  });

  it('escapes descriptions, user agents and disable reasons wherever they appear', async () => {
    const cookie = await signIn(gw.url, ADMIN_TOKEN);
    const overview = await get(gw.url, '/dashboard', cookie);
    const keyPage = await get(gw.url, '/dashboard/keys/cursor-dev', cookie);
    for (const body of [overview.body, keyPage.body]) {
      expect(body).not.toContain('<script');
      expect(body).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;');
    }
    const reason = `"><img src=x onerror=alert(1)> <b>bold</b>`;
    const page = await get(gw.url, '/dashboard/keys/open-webui', cookie);
    await postForm(gw.url, '/dashboard/keys/open-webui/disable', { csrf: csrfOf(page.body), reason }, cookie);
    try {
      for (const path of ['/dashboard', '/dashboard/keys/open-webui']) {
        const body = (await get(gw.url, path, cookie)).body;
        expect(body, path).not.toContain('<img');
        expect(body, path).not.toContain('<b>bold');
        expect(body, path).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt; &lt;b&gt;bold&lt;/b&gt;');
      }
    } finally {
      const again = await get(gw.url, '/dashboard/keys/open-webui', cookie);
      await postForm(gw.url, '/dashboard/keys/open-webui/enable', { csrf: csrfOf(again.body) }, cookie);
    }
  });

  it('shows the config revision and a failed reload with its error', async () => {
    const cookie = await signIn(gw.url, VIEWER_TOKEN);
    await writeFile(gw.file, yaml('  bogus_field: 1'));
    await gw.server.reload('test');
    try {
      const page = await get(gw.url, '/dashboard', cookie);
      expect(page.body).toContain('The last config reload failed');
      expect(page.body).toContain('bogus_field');
    } finally {
      await writeFile(gw.file, yaml());
      await gw.server.reload('test');
    }
    expect((await get(gw.url, '/dashboard', cookie)).body).not.toContain('The last config reload failed');
  });
});

describe('dashboard kill switch', () => {
  it('lets a viewer read but not disable: no button, and a forged post is refused 403 and audited', async () => {
    const cookie = await signIn(gw.url, VIEWER_TOKEN);
    const page = await get(gw.url, '/dashboard/keys/cursor-dev', cookie);
    expect(page.body).not.toContain('Disable key</button>');
    expect(page.body).toContain('signed in as a viewer');
    const forged = await postForm(
      gw.url,
      '/dashboard/keys/cursor-dev/disable',
      { csrf: csrfOf(page.body), reason: 'viewer tries' },
      cookie,
    );
    expect(forged.status).toBe(403);
    expect(gw.server.deps.disables.get('cursor-dev')).toBeUndefined();
    expect((await gw.server.deps.store.keyAudit('cursor-dev', 1))[0]).toMatchObject({
      actor: 'dashboard viewer',
      source: 'dashboard',
      action: 'disable',
      result: 'refused: not an admin',
    });
  });

  it('requires the CSRF token of the session on every form post', async () => {
    const cookie = await signIn(gw.url, ADMIN_TOKEN);
    const other = await signIn(gw.url, ADMIN_TOKEN);
    const otherCsrf = csrfOf((await get(gw.url, '/dashboard', other)).body);
    const forms: Record<string, string>[] = [
      { reason: 'no token' },
      { reason: 'wrong', csrf: 'x' },
      { reason: 'other session', csrf: otherCsrf },
    ];
    for (const form of forms) {
      const r = await postForm(gw.url, '/dashboard/keys/cursor-dev/disable', form, cookie);
      expect(r.status, form.reason).toBe(403);
    }
    expect(gw.server.deps.disables.get('cursor-dev')).toBeUndefined();
  });

  it('disables a key as an admin exactly like Slack: refused at the gateway, audited, announced, and enabled again', async () => {
    const cookie = await signIn(gw.url, ADMIN_TOKEN);
    const page = await get(gw.url, '/dashboard/keys/cursor-dev', cookie);
    expect(page.body).toContain('Disable key</button>');
    const before = slack.callsTo('chat.postMessage').length;
    const r = await postForm(
      gw.url,
      '/dashboard/keys/cursor-dev/disable',
      { csrf: csrfOf(page.body), reason: 'runaway loop' },
      cookie,
    );
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/dashboard/keys/cursor-dev');

    const refused = await chat(cursorKey);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('key_disabled');
    expect(gw.server.deps.disables.get('cursor-dev')).toMatchObject({
      reason: 'runaway loop',
      by: 'dashboard admin',
      source: 'dashboard',
    });
    await slack.waitFor((calls) => calls.filter((c) => c.method === 'chat.postMessage').length > before);
    const posted = slack.callsTo('chat.postMessage').slice(before);
    expect(posted.map((c) => [c.body.channel, c.body.text])).toContainEqual([
      ALERT_CHANNEL,
      ':octagonal_sign: dashboard admin disabled key `cursor-dev`: runaway loop.\n' +
        'Clients using it now get `401 key_disabled` on every replica. Undo with `/enable-key cursor-dev`; ' +
        'to make it permanent, set `disabled: true` for `cursor-dev` in keys.yaml.',
    ]);

    const after = await get(gw.url, '/dashboard/keys/cursor-dev', cookie);
    expect(after.body).toContain(
      'is disabled: clients using it now get 401 key_disabled on every replica. Announced in Slack.',
    );
    expect(after.body).toContain('Enable key</button>');
    expect(after.body).toMatch(
      /<td[^>]*>disable<\/td><td[^>]*>dashboard admin<\/td><td[^>]*>the dashboard<\/td><td[^>]*>runaway loop<\/td><td[^>]*>ok<\/td>/,
    );

    const enabled = await postForm(
      gw.url,
      '/dashboard/keys/cursor-dev/enable',
      { csrf: csrfOf(after.body) },
      cookie,
    );
    expect(enabled.status).toBe(303);
    expect((await chat(cursorKey)).status).not.toBe(401);
    await slack.waitFor((calls) =>
      calls.some(
        (c) =>
          c.body.text ===
          ':white_check_mark: dashboard admin enabled key `cursor-dev` again; clients can use it right away.',
      ),
    );
    const audit = await gw.server.deps.store.keyAudit('cursor-dev', 2);
    expect(audit.map((a) => [a.action, a.actor, a.source, a.result])).toEqual([
      ['enable', 'dashboard admin', 'dashboard', 'ok'],
      ['disable', 'dashboard admin', 'dashboard', 'ok'],
    ]);
  });

  it('cannot widen what keys.yaml allows: enabling a key the file disables is refused', async () => {
    const cookie = await signIn(gw.url, ADMIN_TOKEN);
    const page = await get(gw.url, '/dashboard/keys/old-script', cookie);
    expect(page.body).not.toContain('Enable key</button>');
    const r = await postForm(
      gw.url,
      '/dashboard/keys/old-script/enable',
      { csrf: csrfOf(page.body) },
      cookie,
    );
    expect(r.status).toBe(303);
    const after = await get(gw.url, '/dashboard/keys/old-script', cookie);
    expect(after.body).toContain('is disabled in keys.yaml');
    expect((await gw.server.deps.store.keyAudit('old-script', 1))[0]?.result).toBe(
      'refused: disabled in keys.yaml',
    );
  });
});

describe('dashboard CSV', () => {
  it('exports the same rows as tollgate usage --format csv', async () => {
    const cookie = await signIn(gw.url, VIEWER_TOKEN);
    for (const by of ['key', 'model', 'day', 'status']) {
      const csv = await get(gw.url, `/dashboard/usage.csv?by=${by}&since=7d`, cookie, 'text/csv');
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toContain('text/csv');
      expect(csv.headers.get('content-disposition')).toBe(
        `attachment; filename="tollgate-usage-by-${by}.csv"`,
      );
      let out = '';
      const io: CliIO = {
        stdout: (t) => {
          out += t;
        },
        stderr: () => {},
        readStdin: async () => '',
        env: {},
        cwd: gw.dir,
      };
      const store = `sqlite:${join(gw.dir, 'data', 'tollgate.db')}`;
      expect(
        await usage(
          ['--config', gw.file, '--store', store, '--by', by, '--since', '7d', '--format', 'csv'],
          io,
        ),
      ).toBe(0);
      expect(csv.body).toBe(out);
    }
    const bad = await get(gw.url, '/dashboard/usage.csv?by=weather', cookie);
    expect(bad.status).toBe(400);
  });

  it("exports a key's requests and history, with spreadsheet formulas defused", async () => {
    const cookie = await signIn(gw.url, VIEWER_TOKEN);
    expect((await chat(webuiKey, '=HYPERLINK("http://x")')).status).toBeLessThan(500);
    const csv = await get(gw.url, '/dashboard/keys/open-webui/requests.csv', cookie, 'text/csv');
    const lines = csv.body.trim().split('\n');
    expect(lines[0]).toBe(
      'time,request_id,model,requested_model,route,status,error_code,input_tokens,cached_tokens,cache_write_tokens,output_tokens,cost_usd,latency_ms,stream,user_agent,ip,usage_source,config_revision,images,audio_seconds,characters',
    );
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(csv.body).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(csv.body).toContain(',small,small,/v1/chat/completions,200,,1200,200,0,345,0.001890,');
    expect(csv.body).not.toContain(webuiKey);
    const history = await get(gw.url, '/dashboard/keys/old-script/audit.csv', cookie, 'text/csv');
    expect(history.body.split('\n')[0]).toBe('time,action,key,actor,source,reason,result');
  });
  it('defuses a formula planted by a key holder in every export, CLI and dashboard, every column', async () => {
    const planted = '=HYPERLINK("http://evil.example","m")';
    const refused = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${webuiKey}`,
        'content-type': 'application/json',
        'user-agent': '@SUM(A1)',
      },
      body: JSON.stringify({ model: planted, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(refused.status).toBe(404);
    const viewer = await signIn(gw.url, VIEWER_TOKEN);
    const page = await get(gw.url, '/dashboard/keys/open-webui', viewer);
    const form = { csrf: csrfOf(page.body), reason: 'ok\r=1+1' };
    expect((await postForm(gw.url, '/dashboard/keys/open-webui/disable', form, viewer)).status).toBe(403);

    const exports: [string, string][] = [];
    for (const by of ['key', 'model', 'day', 'status'])
      exports.push([
        `usage.csv?by=${by}`,
        (await get(gw.url, `/dashboard/usage.csv?by=${by}&since=7d`, viewer, 'text/csv')).body,
      ]);
    for (const file of ['requests.csv', 'audit.csv'])
      exports.push([
        file,
        (await get(gw.url, `/dashboard/keys/open-webui/${file}`, viewer, 'text/csv')).body,
      ]);
    const store = `sqlite:${join(gw.dir, 'data', 'tollgate.db')}`;
    for (const by of ['key', 'model', 'day', 'status', 'group', 'hash']) {
      let out = '';
      const io: CliIO = {
        stdout: (t) => {
          out += t;
        },
        stderr: () => {},
        readStdin: async () => '',
        env: {},
        cwd: gw.dir,
      };
      expect(await usage(['--config', gw.file, '--store', store, '--by', by, '--format', 'csv'], io)).toBe(0);
      exports.push([`tollgate usage --by ${by}`, out]);
    }
    const everything = exports.map(([, text]) => text).join('');
    expect(everything).toContain(`"'${planted.replace(/"/g, '""')}"`);
    expect(everything).toContain("'@SUM(A1)");
    expect(everything).toContain('"ok\r=1+1"');
    for (const [name, text] of exports) {
      const rows = parseCsv(text);
      expect(rows.length, name).toBeGreaterThan(1);
      expect(new Set(rows.map((r) => r.length)).size, name).toBe(1);
      expect(formulaCells(rows), name).toEqual([]);
    }
  });
});

describe('dashboard off', () => {
  it('answers 404 under /dashboard when neither token is set', async () => {
    const plain = await startTestServer({ yaml: 'version: 1\nkeys: {}\n' });
    try {
      expect((await get(plain.url, '/dashboard')).status).toBe(404);
      expect((await postForm(plain.url, '/dashboard/sign-in', { token: ADMIN_TOKEN })).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
