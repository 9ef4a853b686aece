import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';
import { ALERT_CHANNEL } from '../helpers/slack-config.js';
import { honest, UNIT_MODEL } from '../helpers/unit-model.js';

/**
 * docs/slack.md#alerts: a budget threshold crossed and a budget exhausted are alerted "at most once per key,
 * window and threshold": every window the key has a limit for, hourly and weekly included, and
 * the exhaustion also when requests are refused for it (a refusal costs nothing, but says the
 * window ran out). Real server, fake upstream, fake Slack. Each output token costs $0.001.
 */
const key = mintKey();

const yaml = (upstream: string) => `version: 1
upstreams:
  openai:
    base_url: ${upstream}
    api_key: \${OPENAI_API_KEY}
models:
${UNIT_MODEL}keys:
  loop-bot:
    hash: ${hashKey(key)}
    notify: [U01ALICE]
    limits: { hourly_usd: 0.1, weekly_usd: 0.5 }
slack:
  channel: ${ALERT_CHANNEL}
`;

describe('budget alerts for every limited window', () => {
  let upstream: FakeUpstream;
  let fake: FakeSlack;
  let dir: string;
  let gw: TestServer;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
    fake = await startFakeSlack();
    dir = await mkdtemp(join(tmpdir(), 'tollgate-windows-'));
    // Real time, moved to 10:15 UTC: the test's requests all fall in one hour.
    const shift = Date.parse('2026-12-01T10:15:00Z') - Date.now();
    gw = await startTestServer({
      clock: () => Date.now() + shift,
      yaml: yaml(upstream.baseUrl),
      store: `sqlite:${join(dir, 'tollgate.db')}`,
      env: {
        OPENAI_API_KEY: 'sk-upstream',
        SLACK_BOT_TOKEN: 'xoxb-test',
        SLACK_SIGNING_SECRET: 'windows-secret',
        SLACK_API_URL: fake.apiUrl,
      },
    });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ask = (maxTokens: number) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'unit',
        max_tokens: maxTokens,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
  const budgetTexts = () =>
    fake
      .callsTo('chat.postMessage')
      .map((c) => String(c.body.text))
      .filter((t) => t.includes('budget'));

  it('alerts the hourly threshold, then the hourly budget exhausted when a request is refused, once each', async () => {
    for (let i = 0; i < 3; i++) upstream.next(honest());
    // $0.045 + $0.045: 90% of the $0.10 hourly limit, 18% of the weekly one.
    expect((await ask(45)).status).toBe(200);
    expect((await ask(45)).status).toBe(200);
    await fake.waitFor((calls) => calls.some((c) => String(c.body.text).includes('hourly budget')), 5_000);
    // $0.045 more does not fit in the hour: refused, and the hour is reported spent.
    expect((await ask(45)).status).toBe(429);
    expect((await ask(45)).status).toBe(429);
    await fake.waitFor((calls) => calls.some((c) => String(c.body.text).includes('exhausted')), 5_000);
    await new Promise((r) => setTimeout(r, 200));
    const texts = budgetTexts();
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain(
      '`loop-bot` crossed 80% of its hourly budget: $0.09 of its $0.10 hourly limit',
    );
    expect(texts[0]).toContain('hourly limit (2026-12-01 10:00, UTC+00:00)');
    expect(texts[1]).toContain('`loop-bot` has exhausted its hourly budget');
    expect(texts.some((t) => t.includes('weekly'))).toBe(false);
  });

  it('alerts the weekly threshold when the week crosses it', async () => {
    // Raise the hourly limit by a reload, so that the week can fill.
    await writeFile(gw.file, yaml(upstream.baseUrl).replace('hourly_usd: 0.1', 'hourly_usd: 10'));
    await waitForReload();
    // $0.11 so far; + $0.09 x 4 = $0.47 of the $0.50 week.
    for (let i = 0; i < 4; i++) {
      upstream.next(honest());
      expect((await ask(90)).status).toBe(200);
    }
    await fake.waitFor((calls) => calls.some((c) => String(c.body.text).includes('weekly budget')), 5_000);
    const weekly = budgetTexts().filter((t) => t.includes('weekly'));
    expect(weekly).toHaveLength(1);
    expect(weekly[0]).toContain(
      'crossed 80% of its weekly budget: $0.47 of its $0.50 weekly limit (week of 2026-11-30)',
    );
  });

  /** Probes with a $0.02 request, which does not fit in the old hour ($0.01 left) and fits the new one. */
  async function waitForReload() {
    const until = Date.now() + 5_000;
    for (;;) {
      upstream.reset();
      upstream.next(honest());
      if ((await ask(20)).status === 200) return;
      if (Date.now() > until) throw new Error('the reload did not apply');
      await new Promise((res) => setTimeout(res, 50));
    }
  }
});
