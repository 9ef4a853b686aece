import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createDisableView, type DisableView } from '../../src/policy/disables.js';
import { createKillSwitch } from '../../src/policy/kill-switch.js';
import { createSlack, type SlackIntegration } from '../../src/slack/app.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';
import {
  type FakeSocketConnection,
  type FakeSocketMode,
  startFakeSocketMode,
} from '../helpers/fake-socket-mode.js';
import { ADMIN, ALERT_CHANNEL, holderOf, NOT_ADMIN, slackTestConfig } from '../helpers/slack-config.js';

const APP_TOKEN = 'xapp-1-A1-test';

describe('Slack commands over Socket Mode', () => {
  let socket: FakeSocketMode;
  let fake: FakeSlack;
  let store: Store;
  let disables: DisableView;
  let slack: SlackIntegration;
  let conn: FakeSocketConnection;
  let gate: Promise<void> | null;
  let n = 0;

  beforeAll(async () => {
    socket = await startFakeSocketMode();
    fake = await startFakeSlack({ socketModeUrl: socket.url });
  });
  afterAll(async () => {
    await fake.close();
    await socket.close();
  });

  beforeEach(async () => {
    fake.calls.length = 0;
    fake.setMode('ok');
    gate = null;
    const real = createSqliteStore(':memory:');
    await real.init();
    // setDisabled can be held back by a test to play a slow store.
    store = {
      ...real,
      setDisabled: async (...args: Parameters<Store['setDisabled']>) => {
        if (gate) await gate;
        return real.setDisabled(...args);
      },
    };
    disables = await createDisableView({ store, log: silentLogger(), refreshMs: 3_600_000 });
    const config = holderOf(slackTestConfig());
    const clock = () => Date.now();
    const killSwitch = createKillSwitch({ store, disables, config, clock });
    const created = createSlack({
      // No signing secret: Socket Mode needs none, and the app token alone must select it.
      env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: fake.apiUrl },
      config,
      store,
      disables,
      killSwitch,
      clock,
      log: silentLogger(),
      queueOptions: { baseDelayMs: 10, attemptTimeoutMs: 500 },
    });
    if (!created) throw new Error('Slack should be configured');
    slack = created;
    const before = socket.connections.length;
    await slack.start();
    conn = await socket.waitForConnection(before + 1);
  });

  afterEach(async () => {
    await slack.stop();
    socket.dropAll();
    disables.stop();
    await store.close();
  });

  /** Sends a slash command envelope over the websocket; returns its envelope id and response_url id. */
  function sendCommand(command: string, text: string, userId: string) {
    const id = ++n;
    const envelopeId = `e${id}`;
    const responseId = `s${id}`;
    conn.send({
      envelope_id: envelopeId,
      type: 'slash_commands',
      accepts_response_payload: true,
      payload: {
        token: 'deprecated-verification-token',
        team_id: 'T1',
        team_domain: 'acme',
        channel_id: 'C0CMD',
        channel_name: 'ops',
        user_id: userId,
        user_name: userId.toLowerCase(),
        command,
        text,
        api_app_id: 'A1',
        is_enterprise_install: 'false',
        response_url: fake.responseUrl(responseId),
        trigger_id: '1.2.3',
      },
    });
    return { envelopeId, responseId };
  }

  const ackOf = (envelopeId: string) => (m: unknown) =>
    typeof m === 'object' && m !== null && (m as { envelope_id?: unknown }).envelope_id === envelopeId;

  async function replyTo(responseId: string) {
    await fake.waitFor((calls) => calls.some((c) => c.responseId === responseId));
    return fake.calls.find((c) => c.responseId === responseId)!.body as {
      response_type: string;
      text: string;
    };
  }

  it('opens the connection through SLACK_API_URL with the app token and connects to the URL Slack hands out', async () => {
    const opens = fake.callsTo('apps.connections.open');
    expect(opens).toHaveLength(1);
    expect(opens[0]?.authorization).toBe(`Bearer ${APP_TOKEN}`);
    expect(conn.path).toBe('/link/?ticket=fake-ticket&app_id=A1');
    expect(slack.mode).toBe('socket');
  });

  it('acks /disable-key over the websocket, disables the key and announces it, as over HTTP', async () => {
    const { envelopeId, responseId } = sendCommand('/disable-key', 'open-webui-team leaked', ADMIN);

    expect(await conn.waitFor(ackOf(envelopeId))).toEqual({ envelope_id: envelopeId, payload: {} });

    const reply = await replyTo(responseId);
    expect(reply.response_type).toBe('in_channel');
    expect(reply.text).toContain(`<@${ADMIN}> disabled key \`open-webui-team\`: leaked`);
    expect(disables.get('open-webui-team')).toMatchObject({ reason: 'leaked', by: ADMIN, source: 'slack' });
    expect((await store.listDisabled()).get('open-webui-team')).toMatchObject({
      reason: 'leaked',
      by: ADMIN,
    });

    // Typed in another channel, so the alert channel hears about it through the Web API too.
    await fake.waitFor((calls) => calls.some((c) => c.method === 'chat.postMessage'));
    const posted = fake.callsTo('chat.postMessage')[0];
    expect(posted?.body).toMatchObject({ channel: ALERT_CHANNEL });
    expect(String(posted?.body.text)).toContain('open-webui-team');
    expect(posted?.authorization).toBe('Bearer xoxb-test');
    expect((await store.listAudit(5))[0]).toMatchObject({ actor: ADMIN, action: 'disable', result: 'ok' });
  });

  it('acks a non-admin’s /disable-key over the websocket but refuses it privately and disables nothing', async () => {
    const { envelopeId, responseId } = sendCommand('/disable-key', 'open-webui-team leaked', NOT_ADMIN);

    await conn.waitFor(ackOf(envelopeId));
    const reply = await replyTo(responseId);
    expect(reply.response_type).toBe('ephemeral');
    expect(reply.text).toContain('slack.admins');
    expect(disables.get('open-webui-team')).toBeUndefined();
    expect((await store.listDisabled()).size).toBe(0);
    expect(fake.callsTo('chat.postMessage')).toEqual([]);
    expect((await store.listAudit(5))[0]).toMatchObject({
      actor: NOT_ADMIN,
      action: 'disable',
      key: 'open-webui-team',
      result: 'refused: not an admin',
    });
  });

  it('acks over the websocket before the store has finished the disable, then answers', async () => {
    let open!: () => void;
    gate = new Promise((r) => {
      open = r;
    });
    const { envelopeId, responseId } = sendCommand('/disable-key', 'open-webui-team slow', ADMIN);

    await conn.waitFor(ackOf(envelopeId));
    // Slack's 3 s deadline is met while the disable still waits on the store.
    expect(fake.calls.some((c) => c.responseId === responseId)).toBe(false);
    expect(disables.get('open-webui-team')).toBeUndefined();
    open();
    expect((await replyTo(responseId)).response_type).toBe('in_channel');
    expect(disables.get('open-webui-team')).toMatchObject({ reason: 'slow', by: ADMIN });
  });
});
