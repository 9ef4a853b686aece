import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { zonedTime } from '../../src/windows/calendar.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';
import { ALERT_CHANNEL } from '../helpers/slack-config.js';

/**
 * Expiry reminders on three gateway replicas sharing one PostgreSQL database, each checking at
 * start: one Slack post per key and reminder, none again after a restart. The clock is injected.
 */
const TZ = 'Europe/Berlin';
let db: TestDatabase;
let fake: FakeSlack;
let now = 0;

const yaml = `version: 1
server:
  timezone: ${TZ}
keys:
  intern-laptop:
    hash: ${hashKey(mintKey())}
    owner: bob
    notify: [U04BOB]
    expires: 2027-03-31
  no-expiry:
    hash: ${hashKey(mintKey())}
slack:
  channel: ${ALERT_CHANNEL}
`;

function replica(): Promise<TestServer> {
  return startTestServer({
    yaml,
    store: db.url,
    clock: () => now,
    env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'secret', SLACK_API_URL: fake.apiUrl },
  });
}

const reminders = () =>
  fake.callsTo('chat.postMessage').filter((c) => String(c.body.text).includes('expires'));

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeSlack();
});
afterAll(async () => {
  await fake.close();
  await db.drop();
});

describe('expiry reminders with three replicas on PostgreSQL', () => {
  it('are sent once by three replicas starting together, not again after a restart, and once more on the last day', async () => {
    now = zonedTime(2027, 3, 25, TZ, 9);
    // Closing waits for each replica's start-up check, so the counts below are final.
    const three = await Promise.all([replica(), replica(), replica()]);
    await Promise.all(three.map((r) => r.close()));
    expect(reminders()).toHaveLength(1);
    const first = reminders()[0]!;
    expect(first.body.channel).toBe(ALERT_CHANNEL);
    expect(String(first.body.text)).toContain('Key `intern-laptop` (owner: bob) expires in 7 days');
    expect(String(first.body.text)).toContain('<@U04BOB>');

    now = zonedTime(2027, 3, 26, TZ, 9);
    await (await replica()).close();
    expect(reminders()).toHaveLength(1);

    now = zonedTime(2027, 3, 31, TZ, 9);
    const again = await Promise.all([replica(), replica(), replica()]);
    await Promise.all(again.map((r) => r.close()));
    expect(reminders()).toHaveLength(2);
    expect(String(reminders()[1]!.body.text)).toContain('expires at the end of today');
  });
});
