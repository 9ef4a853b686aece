import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBillCheckScheduler } from '../../src/schedule/bill-check-scheduler.js';
import { buildDigest } from '../../src/slack/digest/build-digest.js';
import { renderDigestBlocks } from '../../src/slack/digest/render-blocks.js';
import { renderDigestText } from '../../src/slack/digest/render-text.js';
import {
  ADMIN_KEY,
  billEnv,
  billYaml,
  KEY_IDS,
  pricedBy,
  sendTraffic,
  UPSTREAM_KEYS,
} from '../helpers/bill-check-setup.js';
import { type FakeProvider, startFakeProvider } from '../helpers/fake-admin-api.js';
import { type Harness, manualClock, startGateway } from '../helpers/gateway-harness.js';

const DAY = '2026-11-20';
const NOON = Date.parse(`${DAY}T12:00:00Z`);
const NEXT = Date.parse('2026-11-21T00:00:00Z');
const noSleep = { sleep: async () => {} };

describe('the scheduled bill check', () => {
  let clock: ReturnType<typeof manualClock>;
  let provider: FakeProvider;
  let h: Harness;
  let posts: string[];

  const start = async (timezone = 'UTC') => {
    provider = await startFakeProvider({ clock, adminKey: ADMIN_KEY });
    provider.keyIds.set(UPSTREAM_KEYS.openai, KEY_IDS.openai);
    provider.keyIds.set(UPSTREAM_KEYS.anthropic, KEY_IDS.anthropic);
    h = await startGateway({
      yaml: billYaml(provider.baseUrl, { timezone }),
      env: billEnv(),
      clock,
      logLevel: 'trace',
    });
    provider.price = pricedBy(h.deps.config.current().config, NOON);
  };

  const scheduler = () =>
    createBillCheckScheduler({
      store: h.store,
      config: h.deps.config,
      clock,
      log: h.deps.log,
      env: billEnv(),
      http: noSleep,
      post: async (msg) => {
        posts.push(msg.text);
      },
    });

  beforeEach(() => {
    clock = manualClock(NOON);
    posts = [];
  });

  afterEach(async () => {
    await h.close();
    await provider.close();
  });

  it('waits for the day to settle, then checks it once and alerts an unmetered key once', async () => {
    await start();
    await sendTraffic(h, 1);
    await h.waitForRecords(2);
    provider.addUsage({
      day: DAY,
      apiKeyId: KEY_IDS.openai,
      model: 'gpt-4o-mini-2024-07-18',
      requests: 40,
      input: 3_000_000,
      cached: 0,
      write5m: 0,
      write1h: 0,
      output: 50_000,
    });
    const s = scheduler();
    clock.set(NEXT + 3_600_000); // 01:00 UTC: the provider's report may still move
    // (the week before is caught up: the gateway never checked it)
    expect((await s.check()).filter((r) => r.date === DAY)).toEqual([]);
    const askedFor20th = (u: string) =>
      u.includes('start_time=1795132800') || u.includes('starting_at=2026-11-20');
    expect(provider.adminRequests.filter((r) => askedFor20th(r.url))).toEqual([]);
    clock.set(NEXT + 2.5 * 3_600_000);
    const rows = await s.check();
    expect(rows.map((r) => [r.upstream, r.verdict])).toEqual([
      ['openai', 'unmetered'],
      ['anthropic', 'match'],
    ]);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain('openai');
    expect(posts[0]).toContain('did not pass through tollgate');
    expect(posts[0]).toContain(
      'tollgate metered $0.02 (120,345 tokens); the provider billed $0.50 (3,170,345 tokens), a difference of $0.48',
    );
    expect(posts[0]).toContain('rotate it at the provider');
    const asked = provider.adminRequests.length;
    // Later passes, and another scheduler (a restart), neither check nor alert again.
    clock.advance(3_600_000);
    expect(await s.check()).toEqual([]);
    expect(await scheduler().check()).toEqual([]);
    expect(provider.adminRequests).toHaveLength(asked);
    expect(posts).toHaveLength(1);
    // The admin key went to the admin API, and nowhere else: not Slack, not a trace-level log line.
    expect(
      provider.adminRequests.every(
        (r) => r.headers.authorization === `Bearer ${ADMIN_KEY}` || r.headers['x-api-key'] === ADMIN_KEY,
      ),
    ).toBe(true);
    expect(provider.received.filter((r) => JSON.stringify(r.headers).includes(ADMIN_KEY)).length).toBe(
      provider.adminRequests.length,
    );
    expect(`${posts.join('\n')}${h.logLines.join('\n')}`).not.toContain(ADMIN_KEY);
  });

  it('says unavailable on a 401 without an alert storm, and the digest says so plainly', async () => {
    await start();
    await sendTraffic(h, 1);
    await h.waitForRecords(2);
    provider.adminStatus = 401;
    clock.set(NEXT + 3 * 3_600_000);
    const s = scheduler();
    const rows = (await s.check()).filter((r) => r.date === DAY);
    expect(rows.map((r) => r.verdict)).toEqual(['unavailable', 'unavailable']);
    const asked = provider.adminRequests.length;
    for (let i = 0; i < 4; i++) {
      clock.advance(15 * 60_000);
      await s.check();
    }
    expect(provider.adminRequests).toHaveLength(asked);
    expect(posts).toEqual([]);
    const digest = await buildDigest({
      store: h.store,
      config: h.deps.config.current().config,
      revision: 'r',
      day: DAY,
      now: clock(),
    });
    const text = renderDigestText(digest);
    expect(text).toContain('Bill check 2026-11-20 (UTC): 2 of 2 rows do not match');
    expect(text).toContain('openai gpt-4o-mini: unavailable — 127.0.0.1');
    expect(text).toContain('the admin key was refused');
    // Nothing the gateway wrote or would post carries the admin key, not even the echo of it.
    const blocks = JSON.stringify(renderDigestBlocks(digest));
    expect(provider.adminRequests.some((r) => JSON.stringify(r.headers).includes(ADMIN_KEY))).toBe(true);
    for (const where of [
      text,
      blocks,
      JSON.stringify(await h.store.billChecks(DAY, DAY)),
      h.logLines.join('\n'),
    ]) {
      expect(where).not.toContain(ADMIN_KEY);
    }
  });

  it('puts one line in the digest when everything matches', async () => {
    await start();
    await sendTraffic(h, 1);
    await h.waitForRecords(2);
    clock.set(NEXT + 3 * 3_600_000);
    await scheduler().check();
    const digest = await buildDigest({
      store: h.store,
      config: h.deps.config.current().config,
      revision: 'r',
      day: DAY,
      now: clock(),
    });
    const lines = renderDigestText(digest)
      .split('\n')
      .filter((l) => l.startsWith('Bill check'));
    expect(lines).toEqual([
      "Bill check 2026-11-20 (UTC): anthropic, openai match the providers' own reports ($0.04 metered).",
    ]);
  });

  it('checks UTC days, whatever server.timezone says, for traffic on both sides of midnight UTC', async () => {
    // Auckland is 13 hours ahead: 23:30 UTC on the 20th is already the 21st there.
    clock.set(NEXT - 30 * 60_000);
    await start('Pacific/Auckland');
    await sendTraffic(h, 1);
    clock.set(NEXT + 30 * 60_000);
    await sendTraffic(h, 2);
    await h.waitForRecords(6);
    expect(new Set(h.records.map((r) => r.day))).toEqual(new Set(['2026-11-21']));
    clock.set(NEXT + 3 * 3_600_000);
    const s = scheduler();
    const rows = await s.check();
    clock.set(NEXT + 86_400_000 + 3 * 3_600_000);
    rows.push(...(await s.check()));
    const byDay = (d: string) => rows.filter((r) => r.date === d && r.upstream === 'anthropic');
    expect(byDay('2026-11-20').map((r) => [r.verdict, r.metered_tokens.output])).toEqual([['match', 77]]);
    expect(byDay('2026-11-21').map((r) => [r.verdict, r.metered_tokens.output])).toEqual([['match', 154]]);
  });

  it('catches up the days it missed while the gateway was down, and starts a new upstream at the latest day', async () => {
    await start();
    const s = scheduler();
    await sendTraffic(h, 1); // the 20th, noon
    clock.set(NEXT + 3 * 3_600_000);
    expect(new Set((await s.check()).map((r) => r.date))).toEqual(new Set([DAY]));
    // Nothing before the 20th was asked: that was before this upstream's first check.
    const before = provider.adminRequests.filter((r) => /starting_at=2026-11-1\d/.test(r.url));
    expect(before).toEqual([]);
    clock.set(NEXT + 86_400_000 + 12 * 3_600_000); // the 22nd, noon: traffic, then the gateway is down
    await sendTraffic(h, 1);
    clock.set(NEXT + 3 * 86_400_000 + 3 * 3_600_000); // back on the 24th
    const rows = await s.check();
    expect(new Set(rows.map((r) => r.date))).toEqual(new Set(['2026-11-22']));
    for (const day of ['2026-11-21', '2026-11-22', '2026-11-23']) {
      expect(provider.adminRequests.some((r) => r.url.includes(`starting_at=${day}`))).toBe(true);
    }
    expect(rows.every((r) => r.verdict === 'match')).toBe(true);
  });
});
