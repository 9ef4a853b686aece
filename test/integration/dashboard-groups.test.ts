import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { ADMIN_TOKEN, get, signIn } from '../helpers/dashboard-client.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

/**
 * A key's dashboard page shows every window a request must fit: its own hourly, daily, weekly
 * and monthly limits and its group's shared ones, each with what is spent and when it resets.
 */

const apiKey = mintKey();
let upstream: FakeUpstream;
let gw: TestServer;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startTestServer({
    yaml: `${[
      'version: 1',
      'server: { timezone: Asia/Kolkata }',
      'upstreams:',
      '  fake:',
      `    base_url: ${upstream.baseUrl}`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: keys.yaml's literal `${ENV}` reference syntax
      '    api_key: ${FAKE_KEY}',
      'models:',
      '  small: { upstream: fake, input_per_mtok: 1, output_per_mtok: 2, max_output_tokens: 100 }',
      'groups:',
      '  backend:',
      '    limits: { daily_usd: 0.5, weekly_usd: 2 }',
      'keys:',
      '  api-a:',
      `    hash: ${hashKey(apiKey)}`,
      '    group: backend',
      '    limits: { hourly_usd: 0.25, daily_usd: 1, tpm: 50000 }',
    ].join('\n')}\n`,
    env: { FAKE_KEY: 'sk-upstream', TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  });
  expect(res.status).toBe(200);
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

describe('the key page of a key in a group', () => {
  it("shows the key's hourly window and its group's daily and weekly windows with their spend", async () => {
    const cookie = await signIn(gw.url, ADMIN_TOKEN);
    const page = await get(gw.url, '/dashboard/keys/api-a', cookie);
    expect(page.status).toBe(200);
    const heads = [...page.body.matchAll(/<div class="window-head"><strong>([^<]+)<\/strong>/g)].map(
      (m) => m[1],
    );
    expect(heads).toEqual(['Hourly', 'Daily', 'Monthly', 'Daily, group backend', 'Weekly, group backend']);
    // The fake upstream's canned chat usage: 1,200 input and 345 output tokens at $1 / $2 per
    // million, $0.00189, spent in the key's windows and in its group's.
    expect(page.body).toContain('$0.0019</span> of $0.25');
    expect(page.body).toContain('$0.0019</span> of $0.50');
    expect(page.body).toContain('$0.0019</span> of $2.00');
    expect(page.body).toContain('<dt>Group</dt><dd>backend</dd>');
    expect(page.body).toContain('50,000 (rolling 60 s)');
  });
});
