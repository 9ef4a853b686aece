import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { ENABLE_KEY_ACTION } from '../../src/slack/breaker-alert.js';
import { type FakeSlack, type FakeSlackCall, startFakeSlack } from '../helpers/fake-slack.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';
import { ADMIN, ALERT_CHANNEL, NOT_ADMIN } from '../helpers/slack-config.js';
import { blockActionBody, slackHeaders, slashCommandBody } from '../helpers/slack-signer.js';

/**
 * The circuit breaker (slack.alerts.spike_action: disable) on the real server: real requests
 * through the fake upstream make the spike, the kill switch stops the key, and the alert's
 * Enable key button lifts it for an admin only. The clock is injected and moved forward by
 * seconds (Slack signatures must stay within 5 minutes of it, and Bolt checks them against the
 * wall clock too).
 */

const SECRET = 'breaker-slack-secret';
const key = mintKey();
let upstream: FakeUpstream;
let fake: FakeSlack;
let gw: TestServer | undefined;
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;

// CANNED chat usage: 1,200 input tokens (200 cached) and 345 output: $0.12 + $0.069 = $0.189 a request.
const COST = (1200 * 100 + 345 * 200) / 1e6;

function yaml(): string {
  return `${[
    'version: 1',
    'upstreams:',
    '  fake:',
    `    base_url: ${upstream.baseUrl}`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: keys.yaml's literal `${ENV}` reference syntax
    '    api_key: ${FAKE_KEY}',
    'models:',
    '  small: { upstream: fake, input_per_mtok: 100, output_per_mtok: 200, max_output_tokens: 400 }',
    'keys:',
    '  looping-agent:',
    `    hash: ${hashKey(key)}`,
    '    notify: [U03CAROL]',
    '    limits: { daily_usd: 100, rpm: 1000 }',
    'slack:',
    `  channel: ${ALERT_CHANNEL}`,
    `  admins: [${ADMIN}]`,
    '  alerts:',
    '    spike_action: disable',
    '    spike_factor: 5',
    '    spike_min_usd: 0.5',
  ].join('\n')}\n`;
}

const client = () => new OpenAI({ apiKey: key, baseURL: `${gw!.url}/v1`, maxRetries: 0 });
const ask = () =>
  client().chat.completions.create({ model: 'small', messages: [{ role: 'user', content: 'again' }] });

async function outcome(): Promise<{ status: number; code: string | null; message: string }> {
  try {
    await ask();
    return { status: 200, code: null, message: '' };
  } catch (err) {
    if (!(err instanceof OpenAI.APIError)) throw err;
    return { status: err.status ?? 0, code: (err.code as string | null) ?? null, message: err.message };
  }
}

async function settledRequests(): Promise<number> {
  return (await gw!.server.deps.store.spendBetween('looping-agent', 0, clock() + 1)).requests;
}

async function click(button: { action_id: string; value: string }, userId: string, id: string) {
  const body = blockActionBody({
    actionId: button.action_id,
    value: button.value,
    userId,
    responseUrl: fake.responseUrl(id),
  });
  const res = await fetch(`${gw!.url}/slack/events`, {
    method: 'POST',
    headers: slackHeaders(SECRET, body, Math.floor(clock() / 1000)),
    body,
  });
  expect(res.status).toBe(200);
  await fake.waitFor((calls) => calls.some((c) => c.responseId === id));
  return fake.calls.find((c) => c.responseId === id)!.body as { response_type: string; text: string };
}

function buttonOf(call: FakeSlackCall): { action_id: string; value: string } | undefined {
  const blocks = (call.body.blocks ?? []) as {
    type: string;
    elements?: { action_id: string; value: string }[];
  }[];
  return blocks.find((b) => b.type === 'actions')?.elements?.[0];
}

const breakerPosts = () =>
  fake.callsTo('chat.postMessage').filter((c) => String(c.body.text).includes('Circuit breaker'));

beforeAll(async () => {
  upstream = await startFakeUpstream();
  fake = await startFakeSlack();
});
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});
afterAll(async () => {
  await upstream.close();
  await fake.close();
});

describe('the circuit breaker', () => {
  it('disables a key whose spend spikes within a minute, refuses it with key_disabled, and lets only an admin’s Enable key button lift it', async () => {
    offsetMs = 0;
    fake.calls.length = 0;
    gw = await startTestServer({
      yaml: yaml(),
      clock,
      env: {
        FAKE_KEY: 'sk-upstream',
        SLACK_BOT_TOKEN: 'xoxb-test',
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: fake.apiUrl,
      },
    });

    // Two requests: $0.38 is below spike_min_usd. The third crosses $0.50: this replica's own
    // spend rate says so at its settle, the store confirms at once, and the breaker trips without
    // the clock moving (the periodic check would wait 30 s).
    for (let i = 0; i < 3; i++) expect((await outcome()).status).toBe(200);
    await fake.waitFor(() => breakerPosts().length === 1, 5_000);
    expect(offsetMs).toBe(0);
    const alert = breakerPosts()[0]!;
    expect(alert.body.channel).toBe(ALERT_CHANNEL);
    const text = String(alert.body.text);
    expect(text).toContain('disabled key `looping-agent`');
    expect(text).toContain(`$${(3 * COST).toFixed(2)} in the last hour (3 requests)`);
    expect(text).toContain('nothing in the previous 24 hours');
    expect(text).toContain('at least 5× the usual rate and at least $0.50 in an hour');
    expect(text).toContain('<@U03CAROL>');
    const button = buttonOf(alert);
    expect(button).toMatchObject({ action_id: ENABLE_KEY_ACTION, value: 'looping-agent' });

    const refused = await outcome();
    expect(refused).toMatchObject({ status: 401, code: 'key_disabled' });
    expect(refused.message).toContain("disabled by tollgate's circuit breaker");
    const [audit] = await gw.server.deps.store.listAudit(1);
    expect(audit).toMatchObject({
      actor: 'tollgate',
      source: 'circuit_breaker',
      action: 'disable',
      key: 'looping-agent',
      result: 'ok',
    });
    expect(audit?.reason).toContain(`spend spike of $${(3 * COST).toFixed(2)} in the last hour (3 requests)`);

    const keysBody = slashCommandBody({
      command: '/keys',
      userId: NOT_ADMIN,
      responseUrl: fake.responseUrl('keys'),
    });
    await fetch(`${gw.url}/slack/events`, {
      method: 'POST',
      headers: slackHeaders(SECRET, keysBody, Math.floor(clock() / 1000)),
      body: keysBody,
    });
    await fake.waitFor((calls) => calls.some((c) => c.responseId === 'keys'));
    expect(fake.calls.find((c) => c.responseId === 'keys')!.body.text).toContain(
      '`looping-agent` *disabled(breaker)* by tollgate: circuit breaker: spend spike',
    );

    // Someone who is not an admin cannot lift it.
    expect(await click(button!, NOT_ADMIN, 'enable-by-mallory')).toMatchObject({
      response_type: 'ephemeral',
    });
    expect((await outcome()).code).toBe('key_disabled');
    expect((await gw.server.deps.store.listAudit(1))[0]).toMatchObject({
      actor: NOT_ADMIN,
      action: 'enable',
      result: 'refused: not an admin',
    });

    // An admin's click works like /enable-key.
    const enabled = await click(button!, ADMIN, 'enable-by-alice');
    expect(enabled).toMatchObject({ response_type: 'in_channel' });
    expect(enabled.text).toContain('enabled key `looping-agent` again');
    expect((await outcome()).status).toBe(200);
    expect((await gw.server.deps.store.listAudit(1))[0]).toMatchObject({
      actor: ADMIN,
      source: 'slack',
      action: 'enable',
      result: 'ok',
    });

    // The admin decided the spend is expected: the same day's spike does not trip it again.
    offsetMs = 62_000;
    expect((await outcome()).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    offsetMs = 93_000;
    expect((await outcome()).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect((await outcome()).status).toBe(200);
    expect(breakerPosts()).toHaveLength(1);
  });

  it('only alerts, with a Disable key button, when spike_action is left at alert', async () => {
    offsetMs = 0;
    fake.calls.length = 0;
    gw = await startTestServer({
      yaml: yaml().replace('    spike_action: disable\n', ''),
      clock,
      env: {
        FAKE_KEY: 'sk-upstream',
        SLACK_BOT_TOKEN: 'xoxb-test',
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: fake.apiUrl,
      },
    });
    for (let i = 0; i < 3; i++) expect((await outcome()).status).toBe(200);
    const spikes = () =>
      fake.callsTo('chat.postMessage').filter((c) => String(c.body.text).includes('Spend spike'));
    await fake.waitFor(() => spikes().length === 1, 5_000);
    expect(buttonOf(spikes()[0]!)?.action_id).toBe('disable_key');
    expect(breakerPosts()).toHaveLength(0);
    expect((await outcome()).status).toBe(200);
  });

  it('stops a key spending $50 in 6 seconds within a few seconds of crossing the rule, by the injected clock', async () => {
    offsetMs = 0;
    fake.calls.length = 0;
    // $2.46 a request (13x the prices above), a request every 300 ms: $49 in 6 s. Rule: $10 in an hour.
    const dear = yaml()
      .replace('input_per_mtok: 100, output_per_mtok: 200', 'input_per_mtok: 1300, output_per_mtok: 2600')
      .replace('spike_min_usd: 0.5', 'spike_min_usd: 10');
    gw = await startTestServer({
      yaml: dear,
      clock,
      env: {
        FAKE_KEY: 'sk-upstream',
        SLACK_BOT_TOKEN: 'xoxb-test',
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: fake.apiUrl,
      },
    });
    const perRequest = 13 * COST;
    let crossedAt: number | undefined;
    let refusedAt: number | undefined;
    for (let i = 1; i <= 20 && refusedAt === undefined; i++) {
      const r = await outcome();
      if (r.status === 401) {
        expect(r.code).toBe('key_disabled');
        refusedAt = offsetMs;
        break;
      }
      expect(r.status).toBe(200);
      await waitFor(async () => (await settledRequests()) === i);
      if (crossedAt === undefined && i * perRequest >= 10) crossedAt = offsetMs;
      offsetMs += 300;
    }
    expect(crossedAt).toBeDefined();
    expect(refusedAt).toBeDefined();
    // Stopped within 3 s of the clock after the spend crossed the rule: at most 10 more requests
    // at this pace, where the half-minute check let the whole $50 through.
    expect(refusedAt! - crossedAt!).toBeLessThanOrEqual(3_000);
    const spent = (await gw.server.deps.store.spendBetween('looping-agent', 0, clock() + 1)).costUsd;
    expect(spent).toBeLessThan(20 * perRequest);
    await fake.waitFor(() => breakerPosts().length === 1, 5_000);
  });
});
