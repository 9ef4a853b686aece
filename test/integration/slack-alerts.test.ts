import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KeyConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/log.js';
import { createDisableView, type DisableView } from '../../src/policy/disables.js';
import { createKillSwitch } from '../../src/policy/kill-switch.js';
import { createSlack, type SlackIntegration } from '../../src/slack/app.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store, UsageRecord } from '../../src/store/types.js';
import { type FakeSlack, type FakeSlackCall, startFakeSlack } from '../helpers/fake-slack.js';
import { ADMIN, ALERT_CHANNEL, holderOf, NOT_ADMIN, slackTestConfig } from '../helpers/slack-config.js';
import { blockActionBody, slackHeaders } from '../helpers/slack-signer.js';

const SECRET = 'alerts-secret';
const config = holderOf(slackTestConfig());
const cursor = config.current().config.keys['cursor-dev'] as KeyConfig;

function record(over: Partial<UsageRecord> = {}): UsageRecord {
  const ts = over.ts ?? Date.now();
  return {
    requestId: `req-${Math.random().toString(36).slice(2)}`,
    ts,
    day: '2026-11-26',
    key: 'cursor-dev',
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 100,
    outputTokens: 100,
    cachedTokens: 0,
    costUsd: 0.01,
    latencyMs: 20,
    stream: false,
    userAgent: 'Cursor/0.42.3',
    ip: '10.1.2.3',
    configRevision: 'rev-1',
    usageSource: 'provider',
    ...over,
  };
}

const daily = (spentUsd: number) => ({ daily: { spentUsd, limitUsd: 5, period: 'd:2026-11-26' } });

interface Button {
  action_id: string;
  value: string;
}

function buttonOf(call: FakeSlackCall | undefined): Button | undefined {
  const blocks = (call?.body.blocks ?? []) as { type: string; elements?: Button[] }[];
  return blocks.find((b) => b.type === 'actions')?.elements?.[0];
}

describe('Slack alerts', () => {
  let fake: FakeSlack;
  let store: Store;
  let disables: DisableView;
  let slack: SlackIntegration;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  afterAll(async () => {
    await fake.close();
  });

  beforeEach(async () => {
    fake.calls.length = 0;
    fake.setMode('ok');
    store = createSqliteStore(':memory:');
    await store.init();
    disables = await createDisableView({ store, log: silentLogger(), refreshMs: 3_600_000 });
    const clock = () => Date.now();
    const created = createSlack({
      env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: fake.apiUrl },
      config,
      store,
      disables,
      killSwitch: createKillSwitch({ store, disables, config, clock }),
      clock,
      log: silentLogger(),
      notifierOptions: { refusedAggregateMs: 30, spikeCheckEveryMs: 0 },
      // 1 s per attempt: a loaded CI machine can take longer than 200 ms to answer, and a retry of a post the fake already recorded would count twice.
      queueOptions: { baseDelayMs: 20, maxDelayMs: 50, attemptTimeoutMs: 1000, maxSize: 20 },
    });
    if (!created) throw new Error('Slack should be configured');
    slack = created;
    const app = express();
    app.use(slack.router);
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });

  afterEach(async () => {
    slack.notifier.stop();
    await slack.stop();
    disables.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await store.close();
  });

  const posts = () => fake.callsTo('chat.postMessage');

  it('alerts once when a budget threshold is crossed, in the alert channel, mentioning the notify users', async () => {
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(4.1) });
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(4.2) });
    await slack.notifier.flush();
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(4.3) });
    await slack.notifier.flush();
    expect(posts()).toHaveLength(1);
    const msg = posts()[0]!.body as { channel: string; text: string };
    expect(msg.channel).toBe(ALERT_CHANNEL);
    expect(msg.text).toContain('crossed 80% of its daily budget: $4.10 of its $5.00 daily limit');
    expect(msg.text).toContain('<@U01ALICE> <@U03CAROL>');
    expect(buttonOf(posts()[0])).toMatchObject({ action_id: 'disable_key', value: 'cursor-dev' });
  });

  it('alerts once more when the budget is exhausted, and only for the highest level crossed at once', async () => {
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(5) });
    await slack.notifier.flush();
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(4.5) });
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(5) });
    await slack.notifier.flush();
    expect(posts()).toHaveLength(1);
    expect((posts()[0]!.body as { text: string }).text).toContain('has exhausted its daily budget');
  });

  it('alerts that the budget is exhausted when requests are refused for it', async () => {
    const refused = record({ status: 429, errorCode: 'insufficient_quota', costUsd: 0 });
    const refusal = { key: cursor, record: refused, spend: daily(4.97), refusedPeriod: 'd:2026-11-26' };
    slack.notifier.requestSettled(refusal);
    slack.notifier.requestSettled(refusal);
    await slack.notifier.flush();
    const texts = posts().map((p) => (p.body as { text: string }).text);
    expect(texts).toHaveLength(1);
    expect(texts[0]).toContain('has exhausted its daily budget: $4.97 of its $5.00 daily limit');
  });

  it('calls exhausted the window that refused, not the fullest one', async () => {
    const refused = record({ status: 429, errorCode: 'insufficient_quota', costUsd: 0 });
    const spend = {
      hourly: { spentUsd: 0.85, limitUsd: 1, period: 'h:2026-11-26T14+01:00' },
      monthly: { spentUsd: 47.5, limitUsd: 50, period: 'm:2026-11' },
    };
    slack.notifier.requestSettled({
      key: cursor,
      record: refused,
      spend,
      refusedPeriod: 'h:2026-11-26T14+01:00',
    });
    await slack.notifier.flush();
    const texts = posts().map((p) => (p.body as { text: string }).text);
    expect(texts.some((t) => t.includes('has exhausted its hourly budget'))).toBe(true);
    // The month is at 95%: its 80% alert, not an "exhausted" one that would be spent before it runs out.
    expect(texts.some((t) => t.includes('exhausted its monthly budget'))).toBe(false);
    expect(texts.some((t) => t.includes('crossed 80% of its monthly budget'))).toBe(true);
  });

  it("does not call a key's budget exhausted when a refusal found its windows far from full (its group's ran out)", async () => {
    const refused = record({ status: 429, errorCode: 'insufficient_quota', costUsd: 0 });
    slack.notifier.requestSettled({ key: cursor, record: refused, spend: daily(0.5) });
    await slack.notifier.flush();
    expect(posts()).toHaveLength(0);
  });

  it('alerts an hourly and a weekly threshold apart from the daily one', async () => {
    const spend = {
      hourly: { spentUsd: 0.9, limitUsd: 1, period: 'h:2026-11-26T14+01:00' },
      weekly: { spentUsd: 17, limitUsd: 20, period: 'w:2026-11-23' },
      ...daily(1),
    };
    slack.notifier.requestSettled({ key: cursor, record: record(), spend });
    await slack.notifier.flush();
    const texts = posts().map((p) => (p.body as { text: string }).text);
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain(
      'crossed 80% of its hourly budget: $0.90 of its $1.00 hourly limit (2026-11-26 14:00, UTC+01:00)',
    );
    expect(texts[1]).toContain(
      'crossed 80% of its weekly budget: $17.00 of its $20.00 weekly limit (week of 2026-11-23)',
    );
  });

  it('does not repeat an alert another replica (or an earlier run) already sent', async () => {
    await store.claimOnce('alert', 'budget:cursor-dev:d:2026-11-26:0.8', Date.now());
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(4.1) });
    await slack.notifier.flush();
    expect(posts()).toHaveLength(0);
  });

  it('alerts once on a spend spike far above the key’s usual hourly rate', async () => {
    const now = Date.now();
    // Usual: $0.24 over the previous day ($0.01/h); last hour: $3.
    await store.settle(record({ ts: now - 5 * 3_600_000, costUsd: 0.24 }), []);
    await store.settle(record({ ts: now - 600_000, costUsd: 3 }), []);
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(0.5) });
    await slack.notifier.flush();
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(0.5) });
    await slack.notifier.flush();
    const spikes = posts().filter((p) => String(p.body.text).includes('Spend spike'));
    expect(spikes).toHaveLength(1);
    expect(spikes[0]!.body.text).toContain('$3.00 in the last hour');
    expect(spikes[0]!.body.text).toContain('<@U01ALICE>');
    expect(buttonOf(spikes[0])?.value).toBe('cursor-dev');
  });

  it('does not call a busy hour a spike when the key is usually that busy', async () => {
    const now = Date.now();
    for (let h = 2; h <= 24; h++) await store.settle(record({ ts: now - h * 3_600_000, costUsd: 2 }), []);
    await store.settle(record({ ts: now - 600_000, costUsd: 3 }), []);
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(0.5) });
    await slack.notifier.flush();
    expect(posts().filter((p) => String(p.body.text).includes('Spend spike'))).toHaveLength(0);
  });

  it('alerts once when a key is used from a client it has never used before, but not for its first client', async () => {
    slack.notifier.requestSettled({
      key: cursor,
      record: record({ userAgent: 'Cursor/0.42', ip: '10.1.2.3' }),
      spend: {},
    });
    await slack.notifier.flush();
    // Same family and /24 network: the same client.
    slack.notifier.requestSettled({
      key: cursor,
      record: record({ userAgent: 'Cursor/0.43', ip: '10.1.2.99' }),
      spend: {},
    });
    await slack.notifier.flush();
    expect(posts()).toHaveLength(0);
    slack.notifier.requestSettled({
      key: cursor,
      record: record({ userAgent: 'python-requests/2.31', ip: '203.0.113.7' }),
      spend: {},
    });
    slack.notifier.requestSettled({
      key: cursor,
      record: record({ userAgent: 'python-requests/2.32', ip: '203.0.113.8' }),
      spend: {},
    });
    await slack.notifier.flush();
    expect(posts()).toHaveLength(1);
    expect(posts()[0]!.body.text).toContain('`python-requests` from 203.0.113.0/24');
    expect(posts()[0]!.body.text).toContain('<@U03CAROL>');
    expect(buttonOf(posts()[0])?.value).toBe('cursor-dev');
  });

  it('alerts once that a disabled key is still being tried, with how often and from which user-agent', async () => {
    const at = Date.now();
    for (let i = 0; i < 3; i++) {
      slack.notifier.keyRefused({
        key: 'cursor-dev',
        code: 'key_disabled',
        userAgent: 'Cursor/0.42',
        ip: '10.1.2.3',
        at,
      });
    }
    await fake.waitFor((calls) => calls.some((c) => c.method === 'chat.postMessage'));
    await new Promise((r) => setTimeout(r, 60));
    slack.notifier.keyRefused({
      key: 'cursor-dev',
      code: 'key_disabled',
      userAgent: 'Cursor/0.42',
      ip: '10.1.2.3',
      at,
    });
    await new Promise((r) => setTimeout(r, 60));
    await slack.notifier.flush();
    expect(posts()).toHaveLength(1);
    const text = String(posts()[0]!.body.text);
    expect(text).toContain('is disabled but still being tried: 3 refused request(s)');
    expect(text).toContain('`Cursor/0.42`');
    expect(text).toContain('<@U01ALICE>');
  });

  it('posts a rejected config reload with file:line:col, and an applied one with its summary, once per revision', async () => {
    const failed = {
      file: 'config/keys.yaml',
      revision: 'old1',
      rejected: 'bad1',
      errors: [
        {
          file: 'config/keys.yaml',
          line: 12,
          col: 7,
          path: 'keys.x.limits.daly_usd',
          message: 'unknown field daly_usd',
          severity: 'error' as const,
        },
      ],
    };
    slack.notifier.configReloadFailed(failed);
    slack.notifier.configReloadFailed(failed);
    // Another broken version while the same good config serves is news too.
    slack.notifier.configReloadFailed({
      ...failed,
      rejected: 'bad2',
      errors: [{ ...failed.errors[0]!, line: 13 }],
    });
    slack.notifier.configReloaded({
      revision: 'new2',
      previousRevision: 'old1',
      summary: () => '- cursor-dev: daily_usd 5 → 10 (+100%)',
    });
    await slack.notifier.flush();
    const texts = posts().map((p) => String(p.body.text));
    expect(texts).toHaveLength(3);
    expect(texts[0]).toContain('`config/keys.yaml:12:7` unknown field daly_usd');
    expect(texts[1]).toContain('`config/keys.yaml:13:7` unknown field daly_usd');
    expect(texts[2]).toContain('`old1` → `new2`');
    expect(texts[2]).toContain('cursor-dev: daily_usd 5 → 10 (+100%)');
  });

  it('sends nothing when keys.yaml names no Slack channel', async () => {
    const saved = config.current();
    config.set(slackTestConfig({ channel: null }), 'no-channel');
    try {
      slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(4.5) });
      await slack.notifier.flush();
      expect(posts()).toHaveLength(0);
    } finally {
      config.set(saved.config, saved.revision);
    }
  });

  it('disables the key from the alert’s own Disable button for an admin, and not for anyone else', async () => {
    slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(4.5) });
    await slack.notifier.flush();
    const button = buttonOf(posts()[0]);
    if (!button) throw new Error('the alert has no button');
    const click = async (userId: string, id: string) => {
      const body = blockActionBody({
        actionId: button.action_id,
        value: button.value,
        userId,
        responseUrl: fake.responseUrl(id),
      });
      const res = await fetch(url, { method: 'POST', headers: slackHeaders(SECRET, body), body });
      expect(res.status).toBe(200);
      await fake.waitFor((calls) => calls.some((c) => c.responseId === id));
      return fake.calls.find((c) => c.responseId === id)!.body;
    };
    expect(await click(NOT_ADMIN, 'n1')).toMatchObject({ response_type: 'ephemeral' });
    expect(disables.get('cursor-dev')).toBeUndefined();
    expect(await click(ADMIN, 'a1')).toMatchObject({ response_type: 'in_channel' });
    expect(disables.get('cursor-dev')).toMatchObject({ by: ADMIN, source: 'slack' });
  });

  describe('when Slack is broken', () => {
    it('returns from every notifier call at once while Slack hangs, keeps the queue bounded, and delivers after', async () => {
      fake.setMode('hang');
      const results: unknown[] = [];
      for (let i = 0; i < 50; i++) {
        results.push(
          slack.notifier.configReloaded({
            revision: `r${i}`,
            previousRevision: 'r',
            summary: () => `change ${i}`,
          }),
        );
      }
      // Nothing to await: the calls hand their work to the background.
      expect(results.every((r) => r === undefined)).toBe(true);
      await fake.waitFor((calls) => calls.filter((c) => c.method === 'chat.postMessage').length >= 2);
      fake.setMode('ok');
      await slack.notifier.flush();
      const delivered = new Set(posts().map((p) => String(p.body.text)));
      // maxSize 20: the oldest were dropped rather than growing memory during the outage.
      expect(delivered.size).toBeGreaterThanOrEqual(20);
      expect(delivered.size).toBeLessThan(50);
      expect([...delivered].some((t) => t.includes('change 49'))).toBe(true);
    });

    it('retries with backoff after Slack answers 500 and delivers the alert once Slack is back', async () => {
      fake.setMode('error500');
      slack.notifier.requestSettled({ key: cursor, record: record(), spend: daily(4.5) });
      await fake.waitFor((calls) => calls.filter((c) => c.method === 'chat.postMessage').length >= 2);
      fake.setMode('ok');
      await slack.notifier.flush();
      const texts = posts().map((p) => String(p.body.text));
      expect(texts.length).toBeGreaterThanOrEqual(3);
      expect(new Set(texts).size).toBe(1);
      expect(texts[0]).toContain('crossed 80%');
    });
  });
});
