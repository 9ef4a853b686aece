import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BillRow } from '../../src/billing/types.js';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { openStore } from '../../src/store/open.js';
import { ADMIN_KEY, KEY_IDS } from '../helpers/bill-check-setup.js';
import { ADMIN_TOKEN, get, signIn } from '../helpers/dashboard-client.js';
import { type FakeProvider, startFakeProvider } from '../helpers/fake-admin-api.js';
import { manualClock } from '../helpers/gateway-harness.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

/** The real server: the overview's bill check card and /metrics, from the rows in the store. */

const row = (
  date: string,
  model: string,
  verdict: BillRow['verdict'],
  metered: number,
  billed: number,
): BillRow => ({
  upstream: 'openai',
  date,
  model,
  metered_tokens: { input: 1, cached_input: 0, cache_write: 0, output: 1 },
  billed_tokens: { input: 1, cached_input: 0, cache_write: 0, output: 1 },
  metered_usd: metered,
  billed_usd: billed,
  delta_usd: billed - metered,
  verdict,
  detail: 'numbers',
});

let provider: FakeProvider;
let gw: TestServer;

beforeAll(async () => {
  const clock = manualClock(Date.parse('2026-11-30T10:00:00Z'));
  provider = await startFakeProvider({ clock, adminKey: ADMIN_KEY });
  gw = await startTestServer({
    clock,
    yaml: `version: 1
upstreams:
  openai:
    base_url: ${provider.baseUrl}
    api_key: \${OPENAI_API_KEY}
    provider: openai
    billing:
      admin_key: \${OPENAI_ADMIN_KEY}
      api_key_id: ${KEY_IDS.openai}
models:
  gpt-4o-mini:
    upstream: openai
keys:
  dev:
    hash: ${hashKey(mintKey())}
`,
    env: {
      OPENAI_API_KEY: 'sk-upstream-0123456789',
      OPENAI_ADMIN_KEY: ADMIN_KEY,
      TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    },
    openStore: async (url) => {
      const store = await openStore(url);
      await store.saveBillChecks(
        '2026-11-11',
        'openai',
        [row('2026-11-11', 'gpt-4o-mini', 'match', 2, 2)],
        0,
      );
      await store.saveBillChecks(
        '2026-11-12',
        'openai',
        [
          row('2026-11-12', 'gpt-4o-mini', 'match', 3, 3),
          row('2026-11-12', 'gpt-5-2025-08-07', 'unmetered', 0, 4),
        ],
        0,
      );
      return store;
    },
  });
});

afterAll(async () => {
  await gw?.close();
  await provider?.close();
});

describe('the bill check on the dashboard and in /metrics', () => {
  it('shows 30 days of metered against billed per upstream, each day in its worst verdict', async () => {
    const cookie = await signIn(gw.url, ADMIN_TOKEN);
    const page = await get(gw.url, '/dashboard', cookie);
    expect(page.status).toBe(200);
    const card = page.body.slice(page.body.indexOf('id="bill-check"'));
    expect(card).toContain('Bill check, last 30 days (UTC)');
    expect(card).toMatch(
      /<td>openai<\/td><td class="num">\$5\.00<\/td><td class="num">\$9\.00<\/td><td class="num">\+\$4\.00<\/td>/,
    );
    expect(card).toContain('title="2026-11-12: unmetered, metered $3.00, billed $7.00"');
    expect(card).toContain('title="2026-11-11: match, metered $2.00, billed $2.00"');
    expect(card).toContain('title="2026-10-31: not checked"');
    expect(card).not.toContain('2026-10-30');
  });

  it('exports the latest day’s delta per upstream and model, unknown models as other', async () => {
    const res = await fetch(`${gw.url}/metrics`);
    const lines = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('tollgate_bill_check_delta_usd{'));
    expect(lines.sort()).toEqual([
      'tollgate_bill_check_delta_usd{upstream="openai",model="gpt-4o-mini"} 0',
      'tollgate_bill_check_delta_usd{upstream="openai",model="other"} 4',
    ]);
  });
});
