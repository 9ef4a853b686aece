import Anthropic from '@anthropic-ai/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkDay } from '../../src/billing/check-day.js';
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
const noSleep = { sleep: async () => {} };

describe('the bill check against the providers’ usage and cost reports', () => {
  let clock: ReturnType<typeof manualClock>;
  let provider: FakeProvider;
  let h: Harness;

  beforeEach(async () => {
    clock = manualClock(NOON);
    provider = await startFakeProvider({ clock, adminKey: ADMIN_KEY });
    provider.keyIds.set(UPSTREAM_KEYS.openai, KEY_IDS.openai);
    provider.keyIds.set(UPSTREAM_KEYS.anthropic, KEY_IDS.anthropic);
    h = await startGateway({ yaml: billYaml(provider.baseUrl), env: billEnv(), clock, logLevel: 'trace' });
    provider.price = pricedBy(h.deps.config.current().config, NOON);
  });

  afterEach(async () => {
    await h.close();
    await provider.close();
  });

  const check = () =>
    checkDay(
      { config: h.deps.config.current().config, store: h.store, env: billEnv(), now: clock, http: noSleep },
      DAY,
    );

  it('finds a day of traffic through tollgate matching both providers, token kind by token kind', async () => {
    await sendTraffic(h, 2);
    await h.waitForRecords(4);
    // Another team's keys in the same project and workspace: theirs, not ours, and a second page.
    const other = {
      day: DAY,
      requests: 3,
      input: 5_000_000,
      cached: 0,
      write5m: 0,
      write1h: 0,
      output: 9_000,
    };
    provider.addUsage({ ...other, apiKeyId: 'key_otherTeam', model: 'gpt-4o-mini-2024-07-18' });
    provider.addUsage({ ...other, apiKeyId: 'apikey_01OtherTeam', model: 'claude-haiku-4-5-20251001' });
    const rows = await check();
    expect(rows.map((r) => [r.upstream, r.model, r.verdict])).toEqual([
      ['openai', 'gpt-4o-mini', 'match'],
      ['anthropic', 'claude-haiku-4-5', 'match'],
    ]);
    const anthropic = rows[1];
    expect(anthropic?.billed_tokens).toEqual(anthropic?.metered_tokens);
    expect(anthropic?.metered_tokens).toEqual({
      input: 20_000,
      cached_input: 200_000,
      cache_write: 10_000,
      output: 154,
    });
    expect(rows[0]?.metered_tokens).toEqual({
      input: 200_000,
      cached_input: 40_000,
      cache_write: 0,
      output: 690,
    });
    for (const r of rows) expect(Math.abs(r.delta_usd ?? 1)).toBeLessThan(1e-6);
    // Every report was read across pages, with the documented query form.
    const urls = provider.adminRequests.map((r) => r.url);
    expect(urls.some((u) => u.includes('page=page_1'))).toBe(true);
    expect(
      urls.some(
        (u) =>
          u.startsWith('/v1/organizations/usage_report/messages?') && u.includes('group_by%5B%5D=api_key_id'),
      ),
    ).toBe(true);
    expect(urls.some((u) => u.startsWith('/v1/organization/costs?'))).toBe(true);
    expect(await h.store.billChecks(DAY, DAY)).toEqual([rows[1], rows[0]]);
  });

  it('says unmetered when the provider counted requests sent past tollgate with the upstream key', async () => {
    await sendTraffic(h, 1);
    await h.waitForRecords(2);
    // A script that holds the upstream key itself.
    await fetch(`${provider.baseUrl}/messages`, {
      method: 'POST',
      headers: { 'x-api-key': UPSTREAM_KEYS.anthropic, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-haiku-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'x' }],
      }),
    }).then((r) => r.text());
    const rows = await check();
    const row = rows.find((r) => r.upstream === 'anthropic');
    expect(row?.verdict).toBe('unmetered');
    expect(row?.billed_tokens?.cached_input).toBe(200_000);
    expect(row?.metered_tokens.cached_input).toBe(100_000);
    expect(row?.delta_usd).toBeGreaterThan(0);
    expect(rows.find((r) => r.upstream === 'openai')?.verdict).toBe('match');
  });

  it('says mispriced when the tokens match but the cost report bills other dollars', async () => {
    provider.price = pricedBy(h.deps.config.current().config, NOON, 1.5);
    await sendTraffic(h, 2);
    await h.waitForRecords(4);
    const rows = await check();
    expect(rows.map((r) => r.verdict)).toEqual(['mispriced', 'mispriced']);
    for (const r of rows) {
      expect(r.billed_tokens).toEqual(r.metered_tokens);
      expect(r.billed_usd).toBeCloseTo(r.metered_usd * 1.5, 5);
    }
  });

  it("prices Anthropic's US-only inference at the uplift the gateway charges, so such a day matches", async () => {
    // Two requests at the global price and six US-only (1.1 x, as Anthropic bills them): priced at
    // the global price, the report would come to $0.017 under what tollgate metered, past $0.01.
    await sendTraffic(h, 2);
    const anthropic = new Anthropic({ apiKey: h.keys.dev, baseURL: h.url, maxRetries: 0 });
    for (let i = 0; i < 6; i++)
      await anthropic.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 100,
        inference_geo: 'us',
        messages: [{ role: 'user', content: 'hi' }],
      });
    const records = await h.waitForRecords(10);
    const claude = records.filter((r) => r.model === 'claude-haiku-4-5');
    const [plain, us] = [claude[0]?.costUsd ?? 0, claude.at(-1)?.costUsd ?? 0];
    expect(us).toBeCloseTo(plain * 1.1, 12);
    const rows = await check();
    const row = rows.find((r) => r.upstream === 'anthropic');
    expect(row?.verdict).toBe('match');
    expect(row?.billed_tokens).toEqual(row?.metered_tokens);
    expect(row?.metered_usd).toBeCloseTo(2 * plain + 6 * us, 6);
    expect(Math.abs(row?.delta_usd ?? 1)).toBeLessThan(1e-6);
    const usage = provider.adminRequests.find((r) => r.url.startsWith('/v1/organizations/usage_report/'));
    expect(decodeURIComponent(usage?.url ?? '')).toContain('group_by[]=inference_geo');
  });

  it('says unavailable when the admin API refuses the admin key, and never repeats the key', async () => {
    provider.adminStatus = 401;
    await sendTraffic(h, 1);
    await h.waitForRecords(2);
    const rows = await check();
    expect(rows.map((r) => r.verdict)).toEqual(['unavailable', 'unavailable']);
    expect(rows[0]?.detail).toContain('401');
    expect(rows[0]?.detail).toContain('admin key was refused');
    expect(provider.adminRequests).toHaveLength(2);
    const stored = JSON.stringify(await h.store.billChecks(DAY, DAY));
    expect(stored).not.toContain(ADMIN_KEY);
    expect(h.logLines.join('\n')).not.toContain(ADMIN_KEY);
  });

  it('says unavailable when the admin API redirects, and the admin key never reaches the other host', async () => {
    const elsewhere = await startFakeProvider({ clock, adminKey: ADMIN_KEY });
    try {
      provider.adminRedirect = new URL(elsewhere.baseUrl).origin;
      await sendTraffic(h, 1);
      await h.waitForRecords(2);
      const rows = await check();
      expect(rows.map((r) => r.verdict)).toEqual(['unavailable', 'unavailable']);
      expect(rows[0]?.detail).toContain('302');
      expect(rows[0]?.detail).toContain('not followed');
      expect(provider.adminRequests.length).toBeGreaterThan(0);
      expect(elsewhere.received).toEqual([]);
      expect(JSON.stringify(await h.store.billChecks(DAY, DAY))).not.toContain(ADMIN_KEY);
    } finally {
      await elsewhere.close();
    }
  });
});
