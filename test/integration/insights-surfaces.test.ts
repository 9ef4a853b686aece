import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { get, signIn, VIEWER_TOKEN } from '../helpers/dashboard-client.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

/**
 * Where the findings show, on the real server: the admin API and the dashboard. The canned answer is 1,200 input
 * tokens (200 cached) and 345 output: at $15 / $7.50 / $60 per million, $0.0372 a request.
 */
const ADMIN_TOKEN = 'admin-token-for-insights-0123456789abcdef';
const PER_REQUEST = (1_000 * 15 + 200 * 7.5 + 345 * 60) / 1e6;

const NOW = Date.UTC(2026, 10, 24, 10, 0, 0);

let upstream: FakeUpstream;
let gw: TestServer;
const unlimited = mintKey();
const limited = mintKey();
const helper = mintKey();
/** A user-agent is the client's to choose: the dashboard must show it as text. */
const EVIL_AGENT = '<img src=x onerror=alert(1)>/1.0';

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startTestServer({
    yaml: [
      'version: 1',
      'upstreams:',
      `  openai: { base_url: ${upstream.baseUrl}, api_key: "\${OPENAI_API_KEY}" }`,
      'models:',
      '  gpt-dear: { upstream: openai, input_per_mtok: 15, output_per_mtok: 60, cached_input_per_mtok: 7.5 }',
      'keys:',
      `  batch-job: { hash: ${hashKey(unlimited)} }`,
      `  steady: { hash: ${hashKey(limited)}, limits: { daily_usd: 5 } }`,
      `  helper: { hash: ${hashKey(helper)}, limits: { daily_usd: 5 } }`,
      '',
    ].join('\n'),
    env: {
      OPENAI_API_KEY: 'sk-upstream',
      TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      TOLLGATE_DASHBOARD_TOKEN: VIEWER_TOKEN,
    },
    // Working hours (Tuesday 10:00 UTC), so the traffic is not also off-hours.
    clock: () => NOW,
  });
  for (const [key, n, agent] of [
    [unlimited, 3, 'batch/1.0'],
    [limited, 2, 'steady/1.0'],
    [helper, 2, 'helper/1.0'],
    [helper, 1, EVIL_AGENT],
  ] as const) {
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': agent },
        body: JSON.stringify({ model: 'gpt-dear', messages: [{ role: 'user', content: `question ${i}` }] }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  }
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const admin = (path: string, token = ADMIN_TOKEN) =>
  fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

async function findings(path: string): Promise<Array<Record<string, unknown>>> {
  // Settlement is written after the answer: wait for the records the findings are read from.
  for (let i = 0; i < 100; i++) {
    const res = await admin(path);
    const body = (await res.json()) as { data: Array<Record<string, unknown>> };
    if (body.data.length > 0) return body.data;
    await new Promise((r) => setTimeout(r, 20));
  }
  return [];
}

describe('GET /admin/insights', () => {
  it('answers the findings of every key in the shape of tollgate insights --format json', async () => {
    const data = await findings('/admin/insights?since=1d');
    expect(data.map((f) => `${f.key} ${f.kind}`).sort()).toEqual(['batch-job no_limit', 'helper shared_key']);
    expect(data.filter((f) => f.key === 'batch-job')).toEqual([
      {
        key: 'batch-job',
        kind: 'no_limit',
        usd: expect.closeTo(3 * PER_REQUEST, 9),
        share: 1,
        count: 3,
        detail: expect.stringContaining('neither `daily_usd` nor `monthly_usd`'),
        suggestion: expect.stringContaining('daily_usd: 0.5'),
      },
    ]);
  });

  it('answers one key when asked, and nothing for a key without findings', async () => {
    expect(await findings('/admin/insights?key=batch-job')).toHaveLength(1);
    const res = await admin('/admin/insights?key=steady');
    expect(((await res.json()) as { data: unknown[] }).data).toEqual([]);
  });

  it('refuses a wrong token and names a bad query parameter', async () => {
    expect((await admin('/admin/insights', 'wrong-token-0123456789abcdef0123456789')).status).toBe(401);
    const res = await admin('/admin/insights?since=yesterday');
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('the query parameter since=yesterday');
  });
});

/** A dashboard page once its findings are read: the first view only starts reading them. */
async function pageWithFindings(path: string, cookie: string) {
  for (let i = 0; i < 100; i++) {
    const page = await get(gw.url, path, cookie);
    if (!page.body.includes('Computing…')) return page;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${path} kept saying Computing…`);
}

describe('the dashboard', () => {
  it("shows a key's findings under Why it costs, the client's user-agent as text", async () => {
    await findings('/admin/insights?key=helper');
    const cookie = await signIn(gw.url, VIEWER_TOKEN);
    const page = await pageWithFindings('/dashboard/keys/helper', cookie);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Why it costs (last 7 days)');
    expect(page.body).toContain('shared key');
    expect(page.body).toContain('&lt;img');
    expect(page.body).not.toContain('<img src=x');
    const quiet = await pageWithFindings('/dashboard/keys/steady', cookie);
    expect(quiet.body).toContain('Nothing stands out');
  });

  it('shows the dearest findings of all keys on the overview, each linked to its key', async () => {
    const cookie = await signIn(gw.url, VIEWER_TOKEN);
    const page = await pageWithFindings('/dashboard', cookie);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Why it costs');
    expect(page.body).toContain('href="/dashboard/keys/batch-job">batch-job</a>: no limit');
    expect(page.body).not.toContain('<img src=x');
  });
});

describe('GET /admin/insights for the dashboard period', () => {
  it("answers from the dashboard's findings while they are fresh, and computes any other period", async () => {
    const cookie = await signIn(gw.url, VIEWER_TOKEN);
    await pageWithFindings('/dashboard', cookie);
    // A second client on steady after the dashboard read its findings: a shared key from now on.
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${limited}`,
          'content-type': 'application/json',
          'user-agent': 'other/2.0',
        },
        body: JSON.stringify({ model: 'gpt-dear', messages: [{ role: 'user', content: `late ${i}` }] }),
      });
      await res.arrayBuffer();
    }
    expect(await findings('/admin/insights?key=steady&since=7d')).toEqual([
      expect.objectContaining({ key: 'steady', kind: 'shared_key' }),
    ]);
    // The default period is the dashboard's: its findings (fixed clock: they stay fresh).
    const res = await admin('/admin/insights?key=steady');
    expect(((await res.json()) as { data: unknown[] }).data).toEqual([]);
    const all = (await (await admin('/admin/insights')).json()) as { data: Array<{ key: string }> };
    expect(all.data.map((f) => f.key).sort()).toEqual(['batch-job', 'helper']);
  });
});
