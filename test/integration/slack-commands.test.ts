import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createInsightsCache } from '../../src/dashboard/insights-cache.js';
import { mintKey } from '../../src/keys/format.js';
import { silentLogger } from '../../src/log.js';
import { createDisableView, type DisableView } from '../../src/policy/disables.js';
import { createKillSwitch } from '../../src/policy/kill-switch.js';
import { createSlack, type SlackIntegration } from '../../src/slack/app.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { periodsAt } from '../../src/windows/budget-windows.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';
import { ADMIN, ALERT_CHANNEL, holderOf, NOT_ADMIN, slackTestConfig } from '../helpers/slack-config.js';
import { blockActionBody, slackHeaders, slashCommandBody } from '../helpers/slack-signer.js';

const SECRET = 'test-signing-secret';

describe('Slack commands over signed HTTP requests', () => {
  let fake: FakeSlack;
  let store: Store;
  let disables: DisableView;
  let slack: SlackIntegration;
  let server: Server;
  let url: string;
  let gate: Promise<void> | null;
  let n = 0;

  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  afterAll(async () => {
    await fake.close();
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
      env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: fake.apiUrl },
      config,
      store,
      disables,
      killSwitch,
      clock,
      log: silentLogger(),
      findings: createInsightsCache(store, clock),
      queueOptions: { baseDelayMs: 10, attemptTimeoutMs: 500 },
    });
    if (!created) throw new Error('Slack should be configured');
    slack = created;
    await slack.start();
    const app = express();
    app.use(slack.router);
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });

  afterEach(async () => {
    await slack.stop();
    disables.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await store.close();
  });

  function post(body: string, headers: Record<string, string> = slackHeaders(SECRET, body)) {
    return fetch(url, { method: 'POST', headers, body });
  }

  /** Sends a slash command and returns what the gateway answered through response_url. */
  async function command(cmd: string, text: string, userId = ADMIN) {
    const id = `r${++n}`;
    const res = await post(
      slashCommandBody({ command: cmd, text, userId, responseUrl: fake.responseUrl(id) }),
    );
    expect(res.status).toBe(200);
    await fake.waitFor((calls) => calls.some((c) => c.responseId === id));
    return fake.calls.find((c) => c.responseId === id)!.body as { response_type: string; text: string };
  }

  it('masks a key pasted into a /disable-key reason in the reply and the channel announcement', async () => {
    const leaked = mintKey();
    const reply = await command('/disable-key', `cursor-dev leaked as ${leaked}`);
    const masked = `${leaked.slice(0, 6)}…${leaked.slice(-4)}`;
    expect(reply.text).toContain(`leaked as ${masked}`);
    await fake.waitFor((calls) => calls.some((c) => c.method === 'chat.postMessage'));
    expect(JSON.stringify(fake.calls)).not.toContain(leaked);
  });

  it('disables a key from /disable-key, visible to the gateway within a second, and announces it', async () => {
    const sent = Date.now();
    const res = await post(
      slashCommandBody({
        command: '/disable-key',
        text: 'cursor-dev looping agent',
        userId: ADMIN,
        responseUrl: fake.responseUrl('d1'),
      }),
    );
    expect(res.status).toBe(200);
    while (!disables.get('cursor-dev') && Date.now() - sent < 1000)
      await new Promise((r) => setTimeout(r, 5));
    expect(disables.get('cursor-dev')).toMatchObject({ reason: 'looping agent', by: ADMIN, source: 'slack' });

    await fake.waitFor((calls) => calls.some((c) => c.responseId === 'd1'));
    const reply = fake.calls.find((c) => c.responseId === 'd1')!.body as {
      response_type: string;
      text: string;
    };
    expect(reply.response_type).toBe('in_channel');
    expect(reply.text).toContain(`<@${ADMIN}> disabled key \`cursor-dev\`: looping agent`);
    expect(reply.text).toContain('401 key_disabled');
    expect(reply.text).toContain('/enable-key cursor-dev');
    expect(reply.text).toContain('disabled: true');
    // Typed in another channel, so the alert channel hears about it too.
    await fake.waitFor((calls) => calls.some((c) => c.method === 'chat.postMessage'));
    expect(fake.callsTo('chat.postMessage')[0]?.body).toMatchObject({ channel: ALERT_CHANNEL });
    expect((await store.listAudit(5))[0]).toMatchObject({ actor: ADMIN, action: 'disable', result: 'ok' });
  });

  it('answers /disable-key again without changing the first disable', async () => {
    await command('/disable-key', 'cursor-dev first');
    const again = await command('/disable-key', 'cursor-dev second');
    expect(again.response_type).toBe('ephemeral');
    expect(again.text).toContain('already disabled');
    expect(disables.get('cursor-dev')?.reason).toBe('first');
  });

  it('acknowledges within Slack’s deadline even while the store is still busy, then answers', async () => {
    let open!: () => void;
    gate = new Promise((r) => {
      open = r;
    });
    const res = await post(
      slashCommandBody({
        command: '/disable-key',
        text: 'cursor-dev slow',
        userId: ADMIN,
        responseUrl: fake.responseUrl('slow'),
      }),
    );
    // The HTTP answer came back while the disable is still waiting on the store.
    expect(res.status).toBe(200);
    expect(fake.calls.some((c) => c.responseId === 'slow')).toBe(false);
    open();
    await fake.waitFor((calls) => calls.some((c) => c.responseId === 'slow'));
    expect(disables.get('cursor-dev')).toBeDefined();
  });

  it('refuses /disable-key and /enable-key from someone who is not in slack.admins, privately, and audits it', async () => {
    const d = await command('/disable-key', 'cursor-dev pwned', NOT_ADMIN);
    expect(d.response_type).toBe('ephemeral');
    expect(d.text).toContain('slack.admins');
    expect(disables.get('cursor-dev')).toBeUndefined();

    await command('/disable-key', 'open-webui-team incident');
    const e = await command('/enable-key', 'open-webui-team', NOT_ADMIN);
    expect(e.response_type).toBe('ephemeral');
    expect(disables.get('open-webui-team')).toBeDefined();

    const audit = await store.listAudit(10);
    expect(audit.filter((a) => a.actor === NOT_ADMIN).map((a) => [a.action, a.key, a.result])).toEqual(
      expect.arrayContaining([
        ['disable', 'cursor-dev', 'refused: not an admin'],
        ['enable', 'open-webui-team', 'refused: not an admin'],
      ]),
    );
  });

  it('lifts a Slack disable with /enable-key', async () => {
    await command('/disable-key', 'open-webui-team incident');
    const r = await command('/enable-key', 'open-webui-team');
    expect(r.response_type).toBe('in_channel');
    expect(r.text).toContain('enabled key `open-webui-team`');
    expect(disables.get('open-webui-team')).toBeUndefined();
  });

  it('cannot enable a key that keys.yaml disables', async () => {
    const r = await command('/enable-key', 'old-script');
    expect(r.response_type).toBe('ephemeral');
    expect(r.text).toContain('disabled in keys.yaml');
    expect(r.text).toContain('pull request');
  });

  it('suggests the right name for a typo', async () => {
    const r = await command('/disable-key', 'cusror-dev oops');
    expect(r.response_type).toBe('ephemeral');
    expect(r.text).toContain("Did you mean 'cursor-dev'?");
    expect(disables.get('cursor-dev')).toBeUndefined();
    const s = await command('/spend', 'open-webui', NOT_ADMIN);
    expect(s.text).toContain('Did you mean `open-webui-team`?');
  });

  it('shows today’s and this month’s spend against the limits with /spend, for anyone', async () => {
    const now = Date.now();
    const { daily, monthly } = periodsAt(now, 'Europe/Berlin');
    await store.settle(
      {
        requestId: 'req-1',
        ts: now,
        day: daily.slice(2),
        key: 'cursor-dev',
        model: 'gpt-4o-mini',
        upstream: 'openai',
        route: '/v1/chat/completions',
        status: 200,
        errorCode: null,
        inputTokens: 10,
        outputTokens: 10,
        cachedTokens: 0,
        costUsd: 1.25,
        latencyMs: 5,
        stream: false,
        userAgent: 'test',
        ip: '127.0.0.1',
        configRevision: 'rev-1',
        usageSource: 'provider',
      },
      [daily, monthly],
    );
    const one = await command('/spend', 'cursor-dev', NOT_ADMIN);
    expect(one.response_type).toBe('ephemeral');
    expect(one.text).toContain('today: $1.25 of $5.00 (25%)');
    expect(one.text).toContain('this month: $1.25 of $50.00 (3%)');
    const all = await command('/spend', '', NOT_ADMIN);
    expect(all.text).toContain('Total: $1.25 today, $1.25 this month');
    expect(all.text).toContain('`cursor-dev`: $1.25 today');
  });

  it('adds the dearest finding of the week to /spend NAME, with what would cut it', async () => {
    // Yesterday at noon in Berlin: working hours, within the week /spend explains.
    const noon =
      Date.UTC(2026, 0, 1, 11, 0, 0) +
      Math.floor((Date.now() - Date.UTC(2026, 0, 1)) / 86_400_000 - 1) * 86_400_000;
    for (let i = 0; i < 10; i++) {
      await store.settle(
        {
          requestId: `loop-${i}`,
          ts: noon + i * 20_000,
          day: new Date(noon).toISOString().slice(0, 10),
          key: 'open-webui-team',
          model: 'gpt-4o-mini',
          upstream: 'openai',
          route: '/v1/chat/completions',
          status: 200,
          errorCode: null,
          inputTokens: 1_000,
          outputTokens: 100,
          cachedTokens: 0,
          costUsd: 0.05,
          latencyMs: 5,
          stream: false,
          userAgent: 'open-webui/1.0',
          ip: '127.0.0.1',
          configRevision: 'rev-1',
          usageSource: 'provider',
          requestFp: '00112233445566778899aabbccddeeff',
        },
        [],
      );
    }
    // A cold cache answers at once and reads the findings in the background, once.
    const cold = await command('/spend', 'open-webui-team', NOT_ADMIN);
    expect(cold.text).toContain('today:');
    expect(cold.text).toContain('*Why it costs* (last 7 days): computing… ask again in a minute.');
    let one = cold;
    for (let i = 0; i < 50 && one.text.includes('computing…'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      one = await command('/spend', 'open-webui-team', NOT_ADMIN);
    }
    expect(one.text).toContain('*Why it costs* (last 7 days): loop, $0.50 (100% of its spend).');
    expect(one.text).toContain('The same request was sent 10 times in 3 minutes');
    expect(one.text).toContain('→ Find the client stuck repeating itself');
    const quiet = await command('/spend', 'cursor-dev', NOT_ADMIN);
    expect(quiet.text).not.toContain('Why it costs');
  });

  it('lists every key with its status, spend against limits and expiry with /keys', async () => {
    await command('/disable-key', 'open-webui-team leaked in a gist');
    const r = await command('/keys', '', NOT_ADMIN);
    expect(r.text).toMatch(
      /`cursor-dev` \*active\* · today \$0\.00 of \$5\.00 \(0%\) · month \$0\.00 of \$50\.00 \(0%\) · expires 2027-03-31/,
    );
    expect(r.text).toContain(`\`open-webui-team\` *disabled(slack)* by <@${ADMIN}>: leaked in a gist`);
    expect(r.text).toContain('`old-script` *disabled(file)*');
    expect(r.text).toContain('`intern-2025` *expired*');
  });

  it('disables a key from an alert’s Disable button for an admin, and refuses the button for others', async () => {
    const refused = await post(
      blockActionBody({
        actionId: 'disable_key',
        value: 'cursor-dev',
        userId: NOT_ADMIN,
        responseUrl: fake.responseUrl('b0'),
      }),
    );
    expect(refused.status).toBe(200);
    await fake.waitFor((calls) => calls.some((c) => c.responseId === 'b0'));
    expect(fake.calls.find((c) => c.responseId === 'b0')?.body).toMatchObject({ response_type: 'ephemeral' });
    expect(disables.get('cursor-dev')).toBeUndefined();

    const ok = await post(
      blockActionBody({
        actionId: 'disable_key',
        value: 'cursor-dev',
        userId: ADMIN,
        responseUrl: fake.responseUrl('b1'),
      }),
    );
    expect(ok.status).toBe(200);
    await fake.waitFor((calls) => calls.some((c) => c.responseId === 'b1'));
    expect(fake.calls.find((c) => c.responseId === 'b1')?.body).toMatchObject({
      response_type: 'in_channel',
      replace_original: false,
    });
    expect(disables.get('cursor-dev')).toMatchObject({
      by: ADMIN,
      reason: 'Disable key button on a Slack alert',
    });
  });

  it('answers the Events API URL check with a signed JSON body (no JSON parser in front of Bolt)', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'c-123', token: 'x' });
    const headers = { ...slackHeaders(SECRET, body), 'content-type': 'application/json' };
    const res = await post(body, headers);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: 'c-123' });
  });

  it('fails loudly instead of hanging when a body parser was mounted in front of the Slack route', async () => {
    const misconfigured = express();
    misconfigured.use(express.urlencoded({ extended: false }));
    misconfigured.use(slack.router);
    const other = misconfigured.listen(0, '127.0.0.1');
    await new Promise((r) => other.once('listening', r));
    try {
      const b = slashCommandBody({ command: '/keys', userId: ADMIN, responseUrl: fake.responseUrl('mis') });
      const res = await fetch(`http://127.0.0.1:${(other.address() as AddressInfo).port}/slack/events`, {
        method: 'POST',
        headers: slackHeaders(SECRET, b),
        body: b,
      });
      expect(res.status).toBe(500);
    } finally {
      other.closeAllConnections();
      await new Promise((r) => other.close(r));
    }
  });

  describe('request security', () => {
    const body = () =>
      slashCommandBody({
        command: '/disable-key',
        text: 'cursor-dev x',
        userId: ADMIN,
        responseUrl: fake.responseUrl('sec'),
      });

    it('refuses a request signed with another secret', async () => {
      const b = body();
      expect((await post(b, slackHeaders('not-the-secret', b))).status).toBe(401);
    });

    it('refuses a request whose body was changed after signing', async () => {
      const b = body();
      expect((await post(`${b}&x=1`, slackHeaders(SECRET, b))).status).toBe(401);
    });

    it('refuses a request without signature headers', async () => {
      expect((await post(body(), { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(401);
    });

    it('refuses a request stamped more than 5 minutes ago', async () => {
      const b = body();
      expect((await post(b, slackHeaders(SECRET, b, Math.floor(Date.now() / 1000) - 6 * 60))).status).toBe(
        401,
      );
    });

    it('refuses a request stamped more than 5 minutes in the future', async () => {
      const b = body();
      expect((await post(b, slackHeaders(SECRET, b, Math.floor(Date.now() / 1000) + 6 * 60))).status).toBe(
        401,
      );
    });

    it('refuses a replay of a request it already received', async () => {
      const b = body();
      const headers = slackHeaders(SECRET, b);
      expect((await post(b, headers)).status).toBe(200);
      expect((await post(b, headers)).status).toBe(401);
    });

    it('refuses a body larger than any Slack payload', async () => {
      const b = `${body()}&pad=${'x'.repeat(1_100_000)}`;
      expect((await post(b, slackHeaders(SECRET, b))).status).toBe(413);
    });

    it('never disabled anything through a refused request', async () => {
      const b = body();
      await post(b, slackHeaders('not-the-secret', b));
      await post(b, slackHeaders(SECRET, b, Math.floor(Date.now() / 1000) + 6 * 60));
      expect(disables.get('cursor-dev')).toBeUndefined();
      expect(await store.listAudit(5)).toEqual([]);
    });
  });
});
