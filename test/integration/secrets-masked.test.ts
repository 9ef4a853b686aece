import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { ADMIN_TOKEN, csrfOf, get, postForm, signIn } from '../helpers/dashboard-client.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';
import { ADMIN, ALERT_CHANNEL } from '../helpers/slack-config.js';
import { slackHeaders, slashCommandBody } from '../helpers/slack-signer.js';

/*
 * A client key sent where no key belongs (the path, the user-agent, the model) and an upstream
 * key that turns up in a request must come out masked in every log line (at trace level), every
 * store row and every Slack post.
 */

const key = mintKey();
const UPSTREAM_KEY = 'sk-upstream-fake-0123456789';
let upstream: FakeUpstream;
let fake: FakeSlack;
let gw: TestServer;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  fake = await startFakeSlack();
  gw = await startTestServer({
    yaml: `version: 1
upstreams:
  fake: { base_url: ${upstream.baseUrl}, api_key: "\${FAKE_KEY}" }
models:
  small: { upstream: fake, input_per_mtok: 1, output_per_mtok: 2, max_output_tokens: 100 }
keys:
  cursor-dev:
    hash: ${hashKey(key)}
    limits: { daily_usd: 5, rpm: 1000 }
slack:
  channel: ${ALERT_CHANNEL}
  admins: [${ADMIN}]
`,
    env: {
      FAKE_KEY: UPSTREAM_KEY,
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: 'masking-secret',
      SLACK_API_URL: fake.apiUrl,
      TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    },
    logLevel: 'trace',
  });
});
afterAll(async () => {
  await gw.close();
  await fake.close();
  await upstream.close();
});

const send = (path: string, userAgent: string, model = 'small') =>
  fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': userAgent },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  }).then(async (res) => ({ status: res.status, text: await res.text() }));

/** Every row of every table of the SQLite store, as text. */
function storeDump(): string {
  const db = new Database(join(gw.dir, 'data', 'tollgate.db'), { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[];
    return tables.map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t.name}"`).all())).join('\n');
  } finally {
    db.close();
  }
}

describe('a key sent where no key belongs', () => {
  it('is masked in the logs, the store and the new-client alert, whatever field it came in', async () => {
    expect((await send('/v1/chat/completions', 'Cursor/1.0')).status).toBe(200);
    // A key as the user-agent: a new client for this key, which Slack hears about.
    expect((await send('/v1/chat/completions', `${key}/1.0`)).status).toBe(200);
    // A key in the path: no such route, recorded and logged all the same.
    const notFound = await send(`/v1/${key}/chat/completions`, 'Cursor/1.0');
    expect(notFound.status).toBe(404);
    expect(notFound.text).not.toContain(key);
    // A key as the model name, and the upstream key as a user-agent.
    expect((await send('/v1/chat/completions', 'Cursor/1.0', key)).status).toBe(404);
    expect((await send('/v1/chat/completions', `tool ${UPSTREAM_KEY}`)).status).toBe(200);

    await waitFor(
      () => fake.callsTo('chat.postMessage').some((c) => String(c.body.text).includes('never used')),
      5_000,
    );
    const alert = fake.callsTo('chat.postMessage').find((c) => String(c.body.text).includes('never used'));
    expect(String(alert?.body.text)).toContain(`${key.slice(0, 6)}…${key.slice(-4)}`);

    const dump = storeDump();
    expect(dump).toContain(`/v1/${key.slice(0, 6)}…${key.slice(-4)}/chat/completions`);
    const logs = gw.logs.join('');
    expect(logs).toContain('"msg":"request"');
    const posts = JSON.stringify(fake.calls);
    for (const [where, text] of [
      ['logs', logs],
      ['store', dump],
      ['slack', posts],
    ] as const) {
      expect(text.includes(key), `${where} holds the client key`).toBe(false);
      expect(text.includes(UPSTREAM_KEY), `${where} holds the upstream key`).toBe(false);
    }
  });
});

describe('a key typed where its name belongs', () => {
  async function slash(command: string, text: string, id: string): Promise<string> {
    const body = slashCommandBody({ command, text, userId: ADMIN, responseUrl: fake.responseUrl(id) });
    const res = await fetch(`${gw.url}/slack/events`, {
      method: 'POST',
      headers: slackHeaders('masking-secret', body),
      body,
    });
    expect(res.status).toBe(200);
    await waitFor(() => fake.calls.some((c) => c.responseId === id), 5_000);
    return JSON.stringify(fake.calls.find((c) => c.responseId === id)?.body);
  }

  const admin = (path: string, method = 'POST') =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: JSON.stringify({ reason: 'typed the key' }) } : {}),
    }).then(async (res) => ({ status: res.status, text: await res.text() }));

  it('is masked in the audit log, the admin API, Slack and the dashboard, and the audit row names the key by hash', async () => {
    const stranger = mintKey();
    const answers: string[] = [];
    for (const typed of [key, stranger]) {
      answers.push(await slash('/disable-key', `${typed} leaked`, `d-${typed.slice(-6)}`));
      answers.push(await slash('/enable-key', typed, `e-${typed.slice(-6)}`));
      for (const verb of ['disable', 'enable']) {
        const r = await admin(`/admin/keys/${typed}/${verb}`);
        expect(r.status).toBe(404);
        answers.push(r.text);
      }
      const r = await admin(`/admin/keys/${typed}`, 'GET');
      expect(r.status).toBe(404);
      answers.push(r.text);
      const cookie = await signIn(gw.url, ADMIN_TOKEN);
      const keyPage = await get(gw.url, '/dashboard/keys/cursor-dev', cookie);
      const form = await postForm(
        gw.url,
        `/dashboard/keys/${typed}/disable`,
        { csrf: csrfOf(keyPage.body), reason: 'typed the key' },
        cookie,
      );
      expect(form.status).toBe(404);
      answers.push(form.body, (await get(gw.url, `/dashboard/keys/${typed}`, cookie)).body);
    }
    // Nothing was disabled: a key is not a name.
    expect((await send('/v1/chat/completions', 'Cursor/1.0')).status).toBe(200);

    const masked = `${key.slice(0, 6)}…${key.slice(-4)}`;
    const text = answers.join('\n');
    expect(text).toContain(`'${masked}' is a key, not a key name`);
    expect(text).toContain("It is the key of 'cursor-dev'");
    expect(text).toContain(`No key named ${stranger.slice(0, 6)}…${stranger.slice(-4)}`);
    const history = await gw.server.deps.store.keyAudit('cursor-dev', 100);
    const prefix = hashKey(key).slice('sha256:'.length, 'sha256:'.length + 12);
    expect(
      history
        .filter((e) => e.result.includes(`hash ${prefix}`))
        .map((e) => e.source)
        .sort(),
    ).toEqual(['admin_api', 'admin_api', 'dashboard', 'slack', 'slack']);
    const dump = storeDump();
    for (const [where, t] of [
      ['answers and pages', text],
      ['store', dump],
      ['logs', gw.logs.join('')],
      ['slack', JSON.stringify(fake.calls)],
    ] as const) {
      expect(t.includes(key), `${where} hold the key of cursor-dev`).toBe(false);
      expect(t.includes(stranger), `${where} hold an unknown key`).toBe(false);
    }
  });
});
