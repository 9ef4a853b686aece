import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { MAX_JSON_DEPTH } from '../../src/proxy/json-depth.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';
import { slackHeaders, slashCommandBody } from '../helpers/slack-signer.js';

/**
 * What a hostile or careless user types into the gateway, the admin API and Slack.
 *
 * Names that are also properties of every JavaScript object: a plain-object lookup finds
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
    expect((await admin(`/keys/${encodeURIComponent(name)}/enable`, 'POST')).status).toBe(404);
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

describe('the admin API refuses bodies it cannot use with 400 or 413 and a clear message', () => {
  const post = (body: string, name = 'cursor-dev') =>
    fetch(`${gw.url}/admin/keys/${name}/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body,
    });
  const errorOf = async (res: Response) =>
    ((await res.json()) as { error: { code: string; message: string } }).error;

  it('answers malformed JSON with 400', async () => {
    const res = await post('{"reason": ');
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({
      code: 'invalid_request',
      message:
        'the request body is not valid JSON: send {"reason": "…"} with content-type: application/json, or no body at all.',
    });
  });

  it('answers a 100 KB reason with 413', async () => {
    const res = await post(JSON.stringify({ reason: 'x'.repeat(100_000) }));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).message).toBe(
      'the request body is larger than 16 KB: send {"reason": "…"} with a reason of at most 500 characters.',
    );
  });

  it('answers a reason over 500 characters, or one that is not a string, with 400', async () => {
    const long = await post(JSON.stringify({ reason: 'x'.repeat(501) }));
    expect(long.status).toBe(400);
    expect((await errorOf(long)).message).toMatch(/^reason is 501 characters long; it may be at most 500/);
    const number = await post(JSON.stringify({ reason: 42 }));
    expect(number.status).toBe(400);
    expect((await errorOf(number)).message).toBe('reason must be a string; got a number.');
    const list = await post('["leaked"]');
    expect(list.status).toBe(400);
    expect((await errorOf(list)).message).toMatch(
      /^the body must be a JSON object like \{"reason": "…"\}; got a list/,
    );
    expect(await gw.server.deps.store.listDisabled()).toEqual(new Map());
  });

  it('names the query parameter, not a command-line flag, in /admin/usage errors', async () => {
    for (const [query, subject] of [
      ['since=last-week', 'the query parameter since=last-week is not'],
      ['until=2026-02-30', 'the query parameter until=2026-02-30 is not a calendar date'],
      ['by=colour', 'the query parameter by= must be one of'],
    ] as const) {
      const res = await admin(`/usage?${query}`);
      expect(res.status).toBe(400);
      const message = (await errorOf(res)).message;
      expect(message).toContain(subject);
      expect(message).not.toContain('--');
    }
  });
});

describe('a model that is not a string', () => {
  it.each([
    [{ name: 'gpt-4o-mini' }, 'an object'],
    [['gpt-4o-mini'], 'a list'],
    [42, 'a number (42)'],
  ])('is 400 invalid_request saying it must be a string, not %j', async (model, type) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cursorKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({
      code: 'invalid_request',
      message: `the request's 'model' must be a string naming a model, not ${type}; key 'cursor-dev' may use: gpt-4o-mini.`,
    });
  });
});

describe('Slack replies to an unknown name', () => {
  it.each(['/disable-key', '/enable-key', '/spend'])(
    'escape what %s was given, so it cannot ping the channel',
    async (cmd) => {
      const reply = await command(cmd, '<!channel> <@U02BOB> & co');
      expect(reply.response_type).toBe('ephemeral');
      expect(reply.text).toContain('&lt;!channel&gt;');
      expect(reply.text).not.toContain('<!channel>');
      expect(reply.text).not.toContain('<@U02BOB>');
    },
  );
});

describe('serve with a short token', () => {
  it('refuses to start, saying which variable is too short', async () => {
    await expect(
      startTestServer({ yaml: 'version: 1\n', env: { TOLLGATE_ADMIN_TOKEN: 'hunter2' } }),
    ).rejects.toThrow(
      "TOLLGATE_ADMIN_TOKEN is 7 characters long; it must be at least 32 (generate one with 'openssl rand -hex 32').",
    );
  });
});

describe('a body nested deeper than any real request', () => {
  /** A chat body whose tool schema nests `levels` objects deep in total (the body itself is level 1). */
  function nestedBody(levels: number, route: 'chat' | 'messages'): string {
    // body → tools → [0] → function|input_schema … : the wrapper levels before the nesting starts.
    const wrapper = route === 'chat' ? 4 : 3;
    const inner = `${'{"a":'.repeat(levels - wrapper)}1${'}'.repeat(levels - wrapper)}`;
    const tool =
      route === 'chat'
        ? `{"type":"function","function":{"name":"f","parameters":${inner}}}`
        : `{"name":"f","input_schema":${inner}}`;
    const head = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}],"tools":[';
    return `${head}${tool}]}`;
  }
  const post = (path: string, body: string) =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cursorKey}`, 'content-type': 'application/json' },
      body,
    });

  it('answers 400 invalid_request naming the limit at 5,000 and 200,000 levels, forwards nothing and logs no error', async () => {
    const before = upstream.received.length;
    for (const levels of [5_000, 200_000]) {
      for (const [path, route] of [
        ['/v1/chat/completions', 'chat'],
        ['/v1/messages', 'messages'],
      ] as const) {
        const res = await post(path, nestedBody(levels, route));
        expect(res.status, `${route} ${levels}`).toBe(400);
        const text = await res.text();
        expect(text).toContain('invalid_request');
        expect(text).toContain(`more than ${MAX_JSON_DEPTH} levels deep`);
      }
    }
    expect(upstream.received.length).toBe(before);
    expect(gw.logs.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
  });

  it('forwards a body nested exactly to the limit', async () => {
    expect(JSON.parse(nestedBody(MAX_JSON_DEPTH, 'chat'))).toBeTruthy();
    const res = await post('/v1/chat/completions', nestedBody(MAX_JSON_DEPTH, 'chat'));
    expect(res.status).toBe(200);
    await res.text();
    const over = await post('/v1/chat/completions', nestedBody(MAX_JSON_DEPTH + 1, 'chat'));
    expect(over.status).toBe(400);
  });
});
