import { afterEach, describe, expect, it } from 'vitest';
import { estimateInputTokens } from '../../src/metering/estimate.js';
import { zonedTime } from '../../src/windows/calendar.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, manualClock, startGateway } from '../helpers/gateway-harness.js';
import { honest, UNIT_MODEL, unitAsk } from '../helpers/unit-model.js';

let upstream: FakeUpstream | undefined;
let gw: Harness | undefined;

afterEach(async () => {
  await gw?.close();
  await upstream?.close();
  gw = undefined;
  upstream = undefined;
});

function yaml(base: string, body: { groups?: string; keys: string; timezone?: string }): string {
  return `version: 1
server:
  timezone: ${body.timezone ?? 'Europe/Berlin'}
upstreams:
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
models:
${UNIT_MODEL}groups:
${body.groups ?? '  {}'}
keys:
${body.keys}`;
}

const post = (h: Harness, key: string, body = unitAsk()) =>
  fetch(`${h.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.keys[key]}`, 'content-type': 'application/json' },
    body,
  });

async function errorOf(res: Response): Promise<{ code: string; message: string } | null> {
  if (res.status === 200) {
    await res.arrayBuffer();
    return null;
  }
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

describe('group budgets on the embedded store', () => {
  it('never lets 120 concurrent requests of two keys in one group spend more than the group limit', async () => {
    upstream = await startFakeUpstream();
    for (let i = 0; i < 120; i++) upstream.next(honest({ delayMs: 10 }));
    gw = await startGateway({
      yaml: yaml(upstream.baseUrl, {
        groups: '  backend:\n    limits: { daily_usd: 0.1 }\n',
        keys:
          '  api-a:\n    hash: {{hash:api-a}}\n    group: backend\n    limits: { daily_usd: 1 }\n' +
          '  api-b:\n    hash: {{hash:api-b}}\n    group: backend\n    limits: { daily_usd: 1 }\n',
      }),
    });
    const h = gw;
    const errors = await Promise.all(
      Array.from({ length: 120 }, (_, i) => post(h, i % 2 ? 'api-a' : 'api-b').then(errorOf)),
    );
    const ok = errors.filter((e) => e === null).length;
    // Each request reserves and spends exactly $0.01: ten fit in the group's $0.10.
    expect(ok).toBe(10);
    const refused = errors.filter((e) => e !== null);
    expect(new Set(refused.map((e) => e?.code))).toEqual(new Set(['insufficient_quota']));
    expect(refused[0]?.message).toMatch(
      /^group 'backend' of key 'api-[ab]' has spent \$0\.\d+ .*of its \$0\.10 daily limit; this request may cost up to \$0\.01; the limit resets at \d{4}-\d{2}-\d{2} 00:00 Europe\/Berlin$/,
    );
    const records = await h.waitForRecords(120);
    const day = records[0]?.day as string;
    const group = (await h.store.getSpend('api-a', [`@backend/d:${day}`]))[`@backend/d:${day}`];
    expect(group?.spentUsd).toBeCloseTo(0.1, 12);
    expect(group?.reservedUsd).toBe(0);
    const a = (await h.store.getSpend('api-a', [`d:${day}`]))[`d:${day}`]?.spentUsd ?? 0;
    const b = (await h.store.getSpend('api-b', [`d:${day}`]))[`d:${day}`]?.spentUsd ?? 0;
    expect(a + b).toBeCloseTo(0.1, 12);
  });

  it("refuses with the key's own limit when that is the full one, with Retry-After until the window resets", async () => {
    upstream = await startFakeUpstream();
    const clock = manualClock(zonedTime(2026, 11, 26, 'Europe/Berlin', 23, 59) + 30_000);
    gw = await startGateway({
      clock,
      yaml: yaml(upstream.baseUrl, {
        groups: '  backend:\n    limits: { daily_usd: 10 }\n',
        keys: '  api-a:\n    hash: {{hash:api-a}}\n    group: backend\n    limits: { daily_usd: 0.015 }\n',
      }),
    });
    upstream.next(honest());
    expect((await post(gw, 'api-a')).status).toBe(200);
    const res = await post(gw, 'api-a');
    expect(res.status).toBe(429);
    // 30 s to midnight in Berlin; a spent budget is not worth an SDK's retries.
    expect(res.headers.get('retry-after')).toBe('30');
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect((await errorOf(res))?.message).toBe(
      "key 'api-a' has spent $0.010 of its $0.015 daily limit; this request may cost up to $0.010; the limit resets at 2026-11-27 00:00 Europe/Berlin",
    );
  });

  it('settles a request admitted before a reload took its key out of the group against what it reserved', async () => {
    upstream = await startFakeUpstream();
    const keys = (group: string) =>
      `  api-a:\n    hash: {{hash:api-a}}\n${group}    limits: { daily_usd: 1 }\n`;
    const groups = '  backend:\n    limits: { daily_usd: 1 }\n  frontend:\n    limits: { daily_usd: 1 }\n';
    gw = await startGateway({
      yaml: yaml(upstream.baseUrl, { groups, keys: keys('    group: backend\n') }),
    });
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    upstream.next(async (req, res) => {
      await held;
      await honest()(req, res);
    });
    const inFlight = post(gw, 'api-a');
    await upstream.waitForRequests(1);
    const periods = (d: string) => [`@backend/d:${d}`, `@frontend/d:${d}`];
    // Moved to another group while the request is upstream.
    gw.reload(yaml(upstream.baseUrl, { groups, keys: keys('    group: frontend\n') }));
    release();
    expect((await inFlight).status).toBe(200);
    const [record] = await gw.waitForRecords(1);
    const localDay = record?.day as string;
    const spend = await gw.store.getSpend('api-a', periods(localDay));
    expect(spend[`@backend/d:${localDay}`]).toEqual({ spentUsd: 0.01, reservedUsd: 0 });
    expect(spend[`@frontend/d:${localDay}`]).toEqual({ spentUsd: 0, reservedUsd: 0 });
    // The next request is the new group's.
    upstream.next(honest());
    expect((await post(gw, 'api-a')).status).toBe(200);
    await gw.waitForRecords(2);
    const after = await gw.store.getSpend('api-a', periods(localDay));
    expect(after[`@frontend/d:${localDay}`]?.spentUsd).toBeCloseTo(0.01, 12);
    expect(after[`@backend/d:${localDay}`]?.spentUsd).toBeCloseTo(0.01, 12);
  });
});

describe('a group renamed by a reload', () => {
  it('settles a request in flight against the old name and starts the new name from zero', async () => {
    upstream = await startFakeUpstream();
    const config = (name: string) =>
      yaml(upstream?.baseUrl ?? '', {
        groups: `  ${name}:\n    limits: { daily_usd: 0.015 }\n`,
        keys: `  api-a:\n    hash: {{hash:api-a}}\n    group: ${name}\n`,
      });
    gw = await startGateway({ yaml: config('backend') });
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    upstream.next(async (req, res) => {
      await held;
      await honest()(req, res);
    });
    const inFlight = post(gw, 'api-a');
    await upstream.waitForRequests(1);
    gw.reload(config('platform'));
    // The old name's reservation still holds $0.01 of backend's pot; platform's is empty.
    upstream.next(honest());
    expect((await post(gw, 'api-a')).status).toBe(200);
    release();
    expect((await inFlight).status).toBe(200);
    const records = await gw.waitForRecords(2);
    const day = records[0]?.day as string;
    const spend = await gw.store.getSpend('', [`@backend/d:${day}`, `@platform/d:${day}`]);
    expect(spend[`@backend/d:${day}`]).toEqual({ spentUsd: 0.01, reservedUsd: 0 });
    expect(spend[`@platform/d:${day}`]).toEqual({ spentUsd: 0.01, reservedUsd: 0 });
    expect((await errorOf(await post(gw, 'api-a')))?.message).toMatch(/^group 'platform' of key 'api-a'/);
  });
});

describe('group budgets in /metrics', () => {
  it("sets the group's budget gauges per window and the key's hourly and weekly ones", async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({
      yaml: yaml(upstream.baseUrl, {
        groups: '  backend:\n    limits: { hourly_usd: 0.04, daily_usd: 0.1 }\n',
        keys: '  api-a:\n    hash: {{hash:api-a}}\n    group: backend\n    limits: { weekly_usd: 0.05 }\n',
      }),
    });
    upstream.next(honest());
    expect((await post(gw, 'api-a')).status).toBe(200);
    await gw.waitForRecords(1);
    const h = gw;
    const text = async () => h.deps.metrics.registry.metrics();
    const until = Date.now() + 2_000;
    while (!(await text()).includes('tollgate_group_budget_use_ratio{') && Date.now() < until)
      await new Promise((r) => setTimeout(r, 5));
    const metrics = await text();
    const value = (series: string) =>
      Number(
        metrics
          .split('\n')
          .find((l) => l.startsWith(`${series} `))
          ?.split(' ')[1],
      );
    expect(value('tollgate_group_budget_use_ratio{group="backend",window="hourly"}')).toBeCloseTo(0.25, 12);
    expect(value('tollgate_group_budget_use_ratio{group="backend",window="daily"}')).toBeCloseTo(0.1, 12);
    expect(value('tollgate_budget_use_ratio{key="api-a",window="weekly"}')).toBeCloseTo(0.2, 12);
  });
});

describe('hourly and weekly windows with an injected clock', () => {
  it('opens an hourly budget again at the top of the hour in Asia/Kolkata (UTC+5:30)', async () => {
    upstream = await startFakeUpstream();
    const tz = 'Asia/Kolkata';
    const clock = manualClock(zonedTime(2026, 11, 26, tz, 13, 59));
    gw = await startGateway({
      clock,
      yaml: yaml(upstream.baseUrl, {
        timezone: tz,
        keys: '  loop:\n    hash: {{hash:loop}}\n    limits: { hourly_usd: 0.01, daily_usd: 5 }\n',
      }),
    });
    upstream.next(honest());
    expect((await post(gw, 'loop')).status).toBe(200);
    const refused = await post(gw, 'loop');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect((await errorOf(refused))?.message).toBe(
      "key 'loop' has spent $0.01 of its $0.01 hourly limit; this request may cost up to $0.01; the limit resets at 2026-11-26 14:00 Asia/Kolkata",
    );
    // 14:00 in Kolkata is 08:30 UTC: the hour's spend is behind, the day's is not.
    clock.set(Date.parse('2026-11-26T08:30:00Z'));
    upstream.next(honest());
    expect((await post(gw, 'loop')).status).toBe(200);
    await gw.waitForRecords(3);
    const spend = await gw.store.getSpend('loop', [
      'h:2026-11-26T13+05:30',
      'h:2026-11-26T14+05:30',
      'd:2026-11-26',
    ]);
    expect(spend['h:2026-11-26T13+05:30']?.spentUsd).toBeCloseTo(0.01, 12);
    expect(spend['h:2026-11-26T14+05:30']?.spentUsd).toBeCloseTo(0.01, 12);
    expect(spend['d:2026-11-26']?.spentUsd).toBeCloseTo(0.02, 12);
  });

  it('gives each of the two 02:00 hours of the night Berlin sets its clocks back its own hourly budget', async () => {
    upstream = await startFakeUpstream();
    const tz = 'Europe/Berlin';
    // 2026-10-25: 02:30 CEST (00:30 UTC); an hour later the clocks show 02:30 again, in CET.
    const clock = manualClock(Date.parse('2026-10-25T00:30:00Z'));
    gw = await startGateway({
      clock,
      yaml: yaml(upstream.baseUrl, {
        timezone: tz,
        keys: '  loop:\n    hash: {{hash:loop}}\n    limits: { hourly_usd: 0.01 }\n',
      }),
    });
    upstream.next(honest());
    expect((await post(gw, 'loop')).status).toBe(200);
    const refused = await post(gw, 'loop');
    // The hour ends at 03:00 CEST, which the clock shows as 02:00 CET: 30 minutes from now.
    expect(refused.headers.get('retry-after')).toBe('1800');
    expect((await errorOf(refused))?.message).toMatch(
      /hourly limit; .* resets at 2026-10-25 02:00 Europe\/Berlin$/,
    );
    clock.set(Date.parse('2026-10-25T01:30:00Z'));
    upstream.next(honest());
    expect((await post(gw, 'loop')).status).toBe(200);
    expect((await post(gw, 'loop')).status).toBe(429);
  });

  it('opens a weekly group budget again on Monday at 00:00 in America/New_York, not at UTC midnight', async () => {
    upstream = await startFakeUpstream();
    const tz = 'America/New_York';
    // Sunday 2026-11-29, 23:58 local (04:58 UTC on Monday).
    const clock = manualClock(zonedTime(2026, 11, 29, tz, 23, 58));
    gw = await startGateway({
      clock,
      yaml: yaml(upstream.baseUrl, {
        timezone: tz,
        groups: '  ci:\n    limits: { weekly_usd: 0.01 }\n',
        keys: '  runner:\n    hash: {{hash:runner}}\n    group: ci\n',
      }),
    });
    upstream.next(honest());
    expect((await post(gw, 'runner')).status).toBe(200);
    const refused = await post(gw, 'runner');
    expect(refused.headers.get('retry-after')).toBe('120');
    expect((await errorOf(refused))?.message).toBe(
      "group 'ci' of key 'runner' has spent $0.01 of its $0.01 weekly limit; this request may cost up to $0.01; the limit resets at 2026-11-30 00:00 America/New_York",
    );
    clock.set(zonedTime(2026, 11, 30, tz, 0, 0));
    upstream.next(honest());
    expect((await post(gw, 'runner')).status).toBe(200);
  });
});

describe('tokens per minute', () => {
  const body = unitAsk(10);
  // What tpm counts at admission: the input estimated from the body plus the output bound.
  const admitted = estimateInputTokens(Buffer.byteLength(body), JSON.parse(body)) + 10;

  it('admits against the estimate plus the output bound, then counts the real tokens', async () => {
    upstream = await startFakeUpstream();
    const clock = manualClock(Date.UTC(2026, 10, 26, 12, 0, 0));
    gw = await startGateway({
      clock,
      yaml: yaml(upstream.baseUrl, {
        keys: `  agent:\n    hash: {{hash:agent}}\n    limits: { tpm: ${2 * admitted} }\n`,
      }),
    });
    // Two requests in flight hold the whole minute.
    const gates: Array<() => void> = [];
    for (let i = 0; i < 2; i++) {
      upstream.next(async (req, res) => {
        await new Promise<void>((r) => gates.push(r));
        await honest({ input: 1, output: 1 })(req, res);
      });
    }
    const first = [post(gw, 'agent'), post(gw, 'agent')];
    await upstream.waitForRequests(2);
    const refused = await post(gw, 'agent');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.headers.get('x-ratelimit-limit-tokens')).toBe(String(2 * admitted));
    expect((await errorOf(refused))?.message).toBe(
      `key 'agent' has used its ${2 * admitted} tokens per minute (limits.tpm); this request may use up to ${admitted} tokens (input estimated from the body plus the output bound); retry in 60 s.`,
    );
    // They end having used 2 tokens each: the minute has room again without waiting for it to pass.
    for (const g of gates) g();
    for (const r of await Promise.all(first)) expect(r.status).toBe(200);
    await gw.waitForRecords(3);
    await new Promise((r) => setTimeout(r, 20));
    // This one really uses its estimate plus 10 tokens, which leaves less than a request's bound.
    upstream.next(honest({ input: admitted, output: 10 }));
    expect((await post(gw, 'agent')).status).toBe(200);
    await gw.waitForRecords(4);
    await new Promise((r) => setTimeout(r, 20));
    clock.advance(20_000);
    const full = await post(gw, 'agent');
    expect(full.status).toBe(429);
    // The minute frees up when the requests made 20 s ago turn 60 s old.
    expect(full.headers.get('retry-after')).toBe('40');
    clock.advance(40_001);
    upstream.next(honest());
    expect((await post(gw, 'agent')).status).toBe(200);
  });

  it("refuses a request over its group's tpm, naming the group, and one bigger than the whole limit at once", async () => {
    upstream = await startFakeUpstream();
    gw = await startGateway({
      yaml: yaml(upstream.baseUrl, {
        groups: `  agents:\n    limits: { tpm: ${admitted + 5} }\n`,
        keys:
          '  one:\n    hash: {{hash:one}}\n    group: agents\n' +
          '  two:\n    hash: {{hash:two}}\n    group: agents\n',
      }),
    });
    upstream.next(honest());
    expect((await post(gw, 'one')).status).toBe(200);
    const refused = await post(gw, 'two');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await errorOf(refused))?.message).toMatch(
      /^group 'agents' of key 'two' has used its \d+ tokens per minute \(limits\.tpm\)/,
    );
    const huge = await post(gw, 'two', unitAsk(100));
    expect(huge.status).toBe(429);
    expect((await errorOf(huge))?.message).toMatch(
      /^this request may use up to \d+ tokens \(input estimated from the body plus the output bound\), more than the \d+ tokens per minute of group 'agents' of key 'two' \(limits\.tpm\); lower max_tokens/,
    );
  });
});
