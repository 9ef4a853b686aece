import { afterEach, describe, expect, it } from 'vitest';
import { zonedTime } from '../../src/windows/calendar.js';
import { type FakeUpstream, sleep, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, manualClock, standardYaml, startGateway } from '../helpers/gateway-harness.js';

let upstream: FakeUpstream | undefined;
let gw: Harness | undefined;

afterEach(async () => {
  await gw?.close();
  await upstream?.close();
  gw = undefined;
  upstream = undefined;
});

function post(h: Harness, key: string, body: Record<string, unknown>) {
  return fetch(`${h.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.keys[key]}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const ask = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  max_tokens: 400,
  messages: [{ role: 'user', content: 'hi' }],
  ...extra,
});

describe('hard budgets', () => {
  it('never lets 150 concurrent requests together spend more than a small daily limit', async () => {
    upstream = await startFakeUpstream();
    const limit = 0.01;
    gw = await startGateway({
      yaml: standardYaml(upstream.baseUrl, {
        keys: `  small:\n    hash: {{hash:small}}\n    limits: { daily_usd: ${limit} }\n`,
      }),
    });
    // An honest provider: never more input than the body holds, never more output than max_tokens.
    for (let i = 0; i < 150; i++) {
      upstream.next(async (req, res) => {
        await sleep(20);
        const usage = { prompt_tokens: Math.ceil(req.body.length / 4), completion_tokens: 400 };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [], usage }));
      });
    }
    const h = gw;
    const statuses = await Promise.all(
      Array.from({ length: 150 }, () => post(h, 'small', ask()).then((r) => r.status)),
    );
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 429).length).toBe(150 - ok);
    const records = await h.waitForRecords(150);
    const charged = records.reduce((sum, r) => sum + r.costUsd, 0);
    expect(charged).toBeLessThanOrEqual(limit + 1e-12);
    const day = records[0]?.day as string;
    const spend = await h.store.getSpend('small', [`d:${day}`]);
    expect(spend[`d:${day}`]?.spentUsd).toBeLessThanOrEqual(limit + 1e-12);
    expect(spend[`d:${day}`]?.reservedUsd).toBe(0);
  });

  it('reserves an image given by URL at its pixel price, and a base64 screenshot not at its bytes', async () => {
    upstream = await startFakeUpstream();
    // gpt-4o-mini input: $0.15 per million tokens, and it bills one image in high or auto detail
    // up to 48,169 tokens, so one image reserves $0.0072.
    gw = await startGateway({
      yaml: standardYaml(upstream.baseUrl, {
        keys:
          '  vision:\n    hash: {{hash:vision}}\n    limits: { daily_usd: 0.0002 }\n' +
          '  shots:\n    hash: {{hash:shots}}\n    limits: { daily_usd: 0.01 }\n',
      }),
    });
    const image = (url: string) =>
      ask({
        max_tokens: 1,
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }],
      });
    const byUrl = await post(gw, 'vision', image('https://example.test/cat.png'));
    expect(byUrl.status).toBe(429);
    expect(((await byUrl.json()) as { error: { code: string } }).error.code).toBe('insufficient_quota');
    // 600 kB of base64 would be 200,000 tokens ($0.03) at bytes/3; as one image it fits in $0.01.
    const screenshot = await post(gw, 'shots', image(`data:image/png;base64,${'A'.repeat(600_000)}`));
    expect(screenshot.status).toBe(200);
  });

  it('rolls the daily window over at midnight in the configured timezone', async () => {
    upstream = await startFakeUpstream();
    const clock = manualClock(zonedTime(2026, 11, 26, 'Europe/Berlin', 23, 59));
    gw = await startGateway({
      clock,
      yaml: standardYaml(upstream.baseUrl, {
        keys: `  nightly:\n    hash: {{hash:nightly}}\n    limits: { daily_usd: 0.0005 }\n`,
      }),
    });
    expect((await post(gw, 'nightly', ask())).status).toBe(200);
    const refused = await post(gw, 'nightly', ask());
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('insufficient_quota');
    expect(body.error.message).toContain('daily limit');
    expect(body.error.message).toContain('the limit resets at 2026-11-27 00:00 Europe/Berlin');

    clock.set(zonedTime(2026, 11, 27, 'Europe/Berlin', 0, 0));
    expect((await post(gw, 'nightly', ask())).status).toBe(200);
    const records = await gw.waitForRecords(3);
    expect(records.map((r) => r.day)).toEqual(['2026-11-26', '2026-11-26', '2026-11-27']);
  });

  it('rolls the monthly window over on the 1st in the configured timezone', async () => {
    upstream = await startFakeUpstream();
    const clock = manualClock(zonedTime(2026, 11, 30, 'America/New_York', 23, 59));
    gw = await startGateway({
      clock,
      yaml: standardYaml(upstream.baseUrl, {
        timezone: 'America/New_York',
        keys: `  monthly:\n    hash: {{hash:monthly}}\n    limits: { monthly_usd: 0.0005 }\n`,
      }),
    });
    expect((await post(gw, 'monthly', ask())).status).toBe(200);
    const refused = await post(gw, 'monthly', ask());
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.message).toContain('monthly limit');
    expect(body.error.message).toContain('resets at 2026-12-01 00:00 America/New_York');
    clock.set(zonedTime(2026, 12, 1, 'America/New_York', 0, 0));
    expect((await post(gw, 'monthly', ask())).status).toBe(200);
  });

  it('lets a key work through the end of its expiry day in the configured timezone, then refuses it', async () => {
    upstream = await startFakeUpstream();
    const clock = manualClock(zonedTime(2026, 11, 26, 'Europe/Berlin', 23, 59));
    gw = await startGateway({
      clock,
      yaml: standardYaml(upstream.baseUrl, {
        keys: `  temp:\n    hash: {{hash:temp}}\n    expires: 2026-11-26\n`,
      }),
    });
    expect((await post(gw, 'temp', ask())).status).toBe(200);
    clock.set(zonedTime(2026, 11, 27, 'Europe/Berlin', 0, 0));
    const r = await post(gw, 'temp', ask());
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('key_expired');
  });

  it('finishes an in-flight request under the config it started with after a reload', async () => {
    upstream = await startFakeUpstream();
    const yaml = standardYaml(upstream.baseUrl);
    gw = await startGateway({ yaml });
    upstream.next(async (_req, res) => {
      await sleep(150);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 10 } }));
    });
    const h = gw;
    const inFlight = post(h, 'cursor-dev', ask());
    await upstream.waitForRequests(1);
    // The new config drops the key and the model's upstream key is irrelevant: the request already runs.
    h.reload(yaml.replace(/ {2}cursor-dev:[\s\S]*?(?= {2}claude-code:)/, ''), 'rev-2');
    expect((await inFlight).status).toBe(200);
    expect((await post(h, 'cursor-dev', ask())).status).toBe(401);
    const records = await h.waitForRecords(2);
    expect(records.map((r) => [r.status, r.configRevision])).toEqual([
      [200, 'test-rev'],
      [401, 'rev-2'],
    ]);
  });
});
