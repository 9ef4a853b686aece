import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zonedTime } from '../../src/windows/calendar.js';
import { type FakeSlack, type FakeSlackCall, startFakeSlack } from '../helpers/fake-slack.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

const CHANNEL = 'C0DIGEST';
const YAML = `version: 1
server:
  timezone: Europe/Berlin
keys:
  cursor-dev:
    hash: sha256:${createHash('sha256').update('cursor-dev').digest('hex')}
    limits: { daily_usd: 5 }
slack:
  channel: ${CHANNEL}
  digest: "0 9 * * *"
`;

let fake: FakeSlack;
let storeDir: string;

beforeAll(async () => {
  fake = await startFakeSlack();
  storeDir = mkdtempSync(join(tmpdir(), 'tollgate-digest-server-'));
});
afterAll(async () => {
  await fake.close();
  rmSync(storeDir, { recursive: true, force: true });
});

function start(now: number): Promise<TestServer> {
  return startTestServer({
    yaml: YAML,
    store: `sqlite:${join(storeDir, 'tollgate.db')}`,
    clock: () => now,
    env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'secret', SLACK_API_URL: fake.apiUrl },
  });
}

const digests = (calls: FakeSlackCall[]) =>
  calls.filter(
    (c) => c.method === 'chat.postMessage' && String(c.body.text).startsWith('tollgate spend digest'),
  );

describe('the gateway and its digest', () => {
  it('posts the digest it missed while down when it starts, and not again after a restart', async () => {
    const first = await start(zonedTime(2026, 11, 27, 'Europe/Berlin', 10, 0));
    try {
      await fake.waitFor((calls) => digests(calls).length === 1, 10_000);
    } finally {
      await first.close();
    }
    const [posted] = digests(fake.calls);
    expect(posted?.body.channel).toBe(CHANNEL);
    expect(String(posted?.body.text)).toContain(
      'tollgate spend digest for 2026-11-26: No traffic on 2026-11-26',
    );

    const second = await start(zonedTime(2026, 11, 27, 'Europe/Berlin', 11, 0));
    try {
      // Bounded: long enough for a catch-up to have been attempted and posted.
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      await second.close();
    }
    expect(digests(fake.calls)).toHaveLength(1);
  });
});
