import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';
import { ADMIN, ALERT_CHANNEL } from '../helpers/slack-config.js';
import { slackHeaders, slashCommandBody } from '../helpers/slack-signer.js';

/**
 * Slack against the real server: the kill switch reaching the proxy, surviving reloads and
 * restarts, and alerts raised by real requests while Slack itself is broken.
 */

const SECRET = 'gateway-slack-secret';
const cursorKey = mintKey();
let upstream: FakeUpstream;
let fake: FakeSlack;
let storeDir: string;

function yaml(comment = ''): string {
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
    '    notify: [U01ALICE]',
    '    limits: { daily_usd: 5, rpm: 1000 }',
    'slack:',
    `  channel: ${ALERT_CHANNEL}`,
    `  admins: [${ADMIN}]`,
    comment ? `# ${comment}` : '',
  ].join('\n')}\n`;
}

async function start(): Promise<TestServer> {
  return startTestServer({
    yaml: yaml(),
    store: `sqlite:${join(storeDir, 'tollgate.db')}`,
    env: {
      FAKE_KEY: 'sk-upstream',
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: fake.apiUrl,
    },
  });
}

const chat = (gw: TestServer, userAgent = 'Cursor/1.0') =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${cursorKey}`,
      'content-type': 'application/json',
      'user-agent': userAgent,
    },
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  });

async function status(gw: TestServer): Promise<{ status: number; code: string | null }> {
  const res = await chat(gw);
  const body = (await res.json()) as { error?: { code?: string } };
  return { status: res.status, code: body.error?.code ?? null };
}

async function slash(gw: TestServer, command: string, text: string, id: string): Promise<void> {
  const body = slashCommandBody({ command, text, userId: ADMIN, responseUrl: fake.responseUrl(id) });
  const res = await fetch(`${gw.url}/slack/events`, {
    method: 'POST',
    headers: slackHeaders(SECRET, body),
    body,
  });
  expect(res.status).toBe(200);
  await fake.waitFor((calls) => calls.some((c) => c.responseId === id));
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  fake = await startFakeSlack();
  storeDir = await mkdtemp(join(tmpdir(), 'tollgate-slack-'));
});

afterAll(async () => {
  await upstream.close();
  await fake.close();
  await rm(storeDir, { recursive: true, force: true });
});

describe('Slack kill switch through the gateway', () => {
  it('refuses a key disabled from Slack within 1 s, still after a reload and a restart, until /enable-key', async () => {
    let gw = await start();
    try {
      expect((await status(gw)).status).toBe(200);
      await slash(gw, '/disable-key', 'cursor-dev runaway loop', 'd1');
      await waitFor(async () => (await status(gw)).code === 'key_disabled', 1_000);

      await writeFile(gw.file, yaml('a reload that changes nothing about the key'));
      await gw.server.reload('test');
      expect(await status(gw)).toEqual({ status: 401, code: 'key_disabled' });
    } finally {
      await gw.close();
    }

    gw = await start();
    try {
      expect(await status(gw)).toEqual({ status: 401, code: 'key_disabled' });
      await slash(gw, '/enable-key', 'cursor-dev', 'e1');
      await waitFor(async () => (await status(gw)).status === 200, 1_000);
    } finally {
      await gw.close();
    }
  });

  it('keeps proxying while Slack hangs or fails, and delivers the alert once Slack is back', async () => {
    const gw = await start();
    try {
      fake.calls.length = 0;
      fake.setMode('hang');
      expect((await chat(gw, 'Cursor/1.0')).status).toBe(200);
      // A second client for the key: a new-client alert is raised while Slack hangs.
      for (let i = 0; i < 10; i++) expect((await chat(gw, 'python-requests/2.31')).status).toBe(200);
      await fake.waitFor((calls) => calls.some((c) => c.method === 'chat.postMessage'));
      fake.setMode('error500');
      for (let i = 0; i < 10; i++) expect((await chat(gw, 'python-requests/2.31')).status).toBe(200);
      fake.setMode('ok');
      await fake.waitFor(
        (calls) =>
          calls.some(
            (c) => c.method === 'chat.postMessage' && String(c.body.text).includes('never used before'),
          ),
        5_000,
      );
      const alert = fake.callsTo('chat.postMessage').at(-1)!;
      expect(alert.body.channel).toBe(ALERT_CHANNEL);
      expect(alert.body.text).toContain('`python-requests` from 127.0.0.0/24');
      expect(alert.body.text).toContain('<@U01ALICE>');
    } finally {
      fake.setMode('ok');
      await gw.close();
    }
  });
  it('posts a rejected reload with file:line:col to the channel, then the diff of the fix', async () => {
    const gw = await start();
    try {
      fake.calls.length = 0;
      // First a truncated file, as an editor mid-write or a bad merge leaves it, then another
      // broken version: each is reported, not only the first one after the good config.
      await writeFile(gw.file, '');
      await fake.waitFor(
        (calls) =>
          calls.some((c) => c.method === 'chat.postMessage' && String(c.body.text).includes('empty')),
        5_000,
      );
      await writeFile(
        gw.file,
        yaml().replace('limits: { daily_usd: 5, rpm: 1000 }', 'limits: { daly_usd: 5 }'),
      );
      await fake.waitFor(
        (calls) =>
          calls.some((c) => c.method === 'chat.postMessage' && String(c.body.text).includes('daly_usd')),
        5_000,
      );
      const failed = fake.callsTo('chat.postMessage').find((c) => String(c.body.text).includes('daly_usd'))!;
      expect(failed.body.channel).toBe(ALERT_CHANNEL);
      expect(String(failed.body.text)).toMatch(/keys\.yaml:\d+:\d+/);
      expect((await chat(gw)).status).toBe(200); // the last good config keeps serving

      await writeFile(gw.file, yaml().replace('daily_usd: 5,', 'daily_usd: 50,'));
      const applied = () =>
        fake.callsTo('chat.postMessage').find((c) => String(c.body.text).includes('Config reloaded'));
      await fake.waitFor(() => applied() !== undefined, 5_000);
      expect(applied()!.body.channel).toBe(ALERT_CHANNEL);
      expect(applied()!.body.text).toContain('`cursor-dev`: daily_usd raised $5 → $50 (+900%)');
      expect(applied()!.body.text).toContain('*Keys*');
      expect(applied()!.body.text).not.toContain('**');
    } finally {
      await gw.close();
    }
  });
});
