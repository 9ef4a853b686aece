import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';
import { slackHeaders, slashCommandBody } from '../helpers/slack-signer.js';

/**
 * Names that are also properties of every JavaScript object. A plain-object lookup finds
 * `keys.constructor` (a function) or `models.__proto__` (Object.prototype) and takes them for
 * configured entries; every place where a user's name meets the config must say "unknown".
 */

const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef';
const SIGNING = 'slack-signing-secret';
const ADMIN = 'U01ALICE';
const cursorKey = mintKey();

let upstream: FakeUpstream;
let slack: FakeSlack;
let gw: TestServer;
let n = 0;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  slack = await startFakeSlack();
  gw = await startTestServer({
    yaml: [
      'version: 1',
      'upstreams:',
      `  openai: { base_url: ${upstream.baseUrl}, api_key: "\${OPENAI_API_KEY}" }`,
      'models:',
      '  gpt-4o-mini: { upstream: openai, input_per_mtok: 0.15, output_per_mtok: 0.6 }',
      'keys:',
      `  cursor-dev: { hash: ${hashKey(cursorKey)}, limits: { daily_usd: 5 } }`,
      'slack:',
      `  channel: C0ALERTS`,
      `  admins: [${ADMIN}]`,
      '',
    ].join('\n'),
    env: {
      OPENAI_API_KEY: 'sk-upstream',
      TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: SIGNING,
      SLACK_API_URL: slack.apiUrl,
    },
  });
});

afterAll(async () => {
  await gw.close();
  await slack.close();
  await upstream.close();
});

const admin = (path: string, method = 'GET') =>
  fetch(`${gw.url}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(method === 'POST' ? { body: '{"reason":"test"}' } : {}),
  });

async function command(cmd: string, text: string): Promise<{ response_type: string; text: string }> {
  const id = `p${++n}`;
  const body = slashCommandBody({ command: cmd, text, userId: ADMIN, responseUrl: slack.responseUrl(id) });
  const res = await fetch(`${gw.url}/slack/events`, {
    method: 'POST',
    headers: slackHeaders(SIGNING, body),
    body,
  });
  expect(res.status).toBe(200);
  await slack.waitFor((calls) => calls.some((c) => c.responseId === id));
  return slack.calls.find((c) => c.responseId === id)?.body as { response_type: string; text: string };
}

describe.each(NAMES)('the name %s', (name) => {
  it('as a model is 404 model_not_found with the normal message', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cursorKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: name, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('model_not_found');
    expect(body.error.message).toBe(
      `model '${name}' is not served by this gateway; key 'cursor-dev' may use: gpt-4o-mini.`,
    );
  });

  it('as a key is 401 invalid_api_key', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${name}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [] }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
  });

  it('is 404 on the admin API and writes no disable', async () => {
    const get = await admin(`/keys/${encodeURIComponent(name)}`);
    expect(get.status).toBe(404);
    expect(((await get.json()) as { error: { message: string } }).error.message).toBe(
      `no key named '${name}' in keys.yaml.`,
    );
    const disable = await admin(`/keys/${encodeURIComponent(name)}/disable`, 'POST');
    expect(disable.status).toBe(404);
    expect(((await disable.json()) as { message: string }).message).toMatch(/^There is no key named/);
    expect((await admin(`/keys/${encodeURIComponent(name)}/enable`, 'POST')).status).not.toBe(200);
    expect(await gw.server.deps.store.listDisabled()).toEqual(new Map());
  });

  it('is an unknown key for /disable-key, /enable-key and /spend, with nothing written or announced', async () => {
    slack.calls.length = 0;
    const disable = await command('/disable-key', `${name} because`);
    expect(disable.response_type).toBe('ephemeral');
    expect(disable.text).toMatch(/^There is no key named/);
    const enable = await command('/enable-key', name);
    expect(enable.response_type).toBe('ephemeral');
    expect(enable.text).toMatch(/^There is no key named/);
    const spend = await command('/spend', name);
    expect(spend.text).toMatch(/^There is no key named/);
    expect(await gw.server.deps.store.listDisabled()).toEqual(new Map());
    expect(slack.callsTo('chat.postMessage')).toEqual([]);
    // The gateway and its metrics still work.
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(200);
  });
});

describe('a keys.yaml that uses these names for its own entries', () => {
  const ownKey = mintKey();
  let named: TestServer;
  const yamlWith = (extraKey: string) =>
    [
      'version: 1',
      'upstreams:',
      `  __proto__: { base_url: ${upstream.baseUrl}, api_key: "\${OPENAI_API_KEY}" }`,
      'models:',
      ...NAMES.map((m) => `  ${m}: { upstream: __proto__, input_per_mtok: 1, output_per_mtok: 2 }`),
      'keys:',
      `  constructor: { hash: ${hashKey(ownKey)}, models: [constructor, __proto__, toString, hasOwnProperty] }`,
      extraKey,
      '',
    ].join('\n');

  beforeAll(async () => {
    named = await startTestServer({
      yaml: yamlWith(''),
      env: { OPENAI_API_KEY: 'sk-upstream', TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN },
    });
  });
  afterAll(async () => {
    await named.close();
  });

  it.each(NAMES)(
    'serves the model %s through the upstream __proto__ to the key constructor',
    async (model) => {
      const res = await fetch(`${named.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ownKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tollgate-key')).toBe('constructor');
      expect(upstream.received.at(-1)?.json?.model).toBe(model);
    },
  );

  it('lists, shows and disables the key constructor on the admin API', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const models = (await (
      await fetch(`${named.url}/v1/models`, { headers: { authorization: `Bearer ${ownKey}` } })
    ).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id).sort()).toEqual([...NAMES].sort());
    const one = await fetch(`${named.url}/admin/keys/constructor`, { headers: auth });
    expect(one.status).toBe(200);
    expect(((await one.json()) as { name: string }).name).toBe('constructor');
    const off = await fetch(`${named.url}/admin/keys/constructor/disable`, {
      method: 'POST',
      headers: auth,
      body: '{"reason":"test"}',
    });
    expect(off.status).toBe(200);
    const on = await fetch(`${named.url}/admin/keys/constructor/enable`, { method: 'POST', headers: auth });
    expect(on.status).toBe(200);
  });
});
