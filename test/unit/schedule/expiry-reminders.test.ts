import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/log.js';
import {
  createExpiryReminders,
  type ExpiryReminders,
  reminderDueAt,
} from '../../../src/schedule/expiry-reminders.js';
import type { ExpiryMessage } from '../../../src/slack/expiry-message.js';
import { createSqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/store/types.js';
import { dayRange } from '../../../src/windows/bounds.js';
import { zonedTime } from '../../../src/windows/calendar.js';
import { makeConfig, makeKey } from '../../helpers/digest-fixtures.js';

const TZ = 'Europe/Berlin';
const at = (m: number, d: number, h = 10) => zonedTime(2027, m, d, TZ, h);

function configWith(expires: string, over: { expiryDays?: number[]; disabled?: boolean } = {}): Config {
  const key = makeKey('cursor-dev', {
    notify: ['U01ALICE'],
    owner: 'alice',
    expires,
    expiresAt: dayRange(expires, TZ).end,
    disabled: over.disabled ?? false,
  });
  const config = makeConfig([key, makeKey('forever')]);
  if (over.expiryDays) config.slack!.alerts.expiryDays = over.expiryDays;
  return config;
}

describe('expiry reminders', () => {
  let store: Store;
  let now: number;
  let config: Config;
  let posts: ExpiryMessage[];
  let failPosts: boolean;
  let reminders: ExpiryReminders;

  beforeEach(async () => {
    store = createSqliteStore(':memory:');
    await store.init();
    config = configWith('2027-03-31');
    posts = [];
    failPosts = false;
    reminders = createExpiryReminders({
      store,
      config: { current: () => ({ config, revision: 'r', loadedAt: 0, keysByHash: new Map() }) },
      clock: () => now,
      log: silentLogger(),
      post: async (msg) => {
        if (failPosts) throw new Error('Slack is down');
        posts.push(msg);
      },
      everyMs: 20,
    });
  });
  afterEach(async () => {
    reminders.stop();
    await reminders.idle();
    await store.close();
  });

  it('is due at the start of the local day that many days before the key stops working', () => {
    // expires 2027-03-31 works through that day: 7 days before the end is 2027-03-25 00:00 Berlin.
    expect(reminderDueAt('2027-03-31', 7, TZ)).toBe(zonedTime(2027, 3, 25, TZ));
    expect(reminderDueAt('2027-03-31', 1, TZ)).toBe(zonedTime(2027, 3, 31, TZ));
    // Across the DST change of 2027-03-28 and a month boundary.
    expect(reminderDueAt('2027-04-02', 7, TZ)).toBe(zonedTime(2027, 3, 27, TZ));
  });

  it('mentions the notify users once per reminder, 7 days and then 1 day before, and never after expiry', async () => {
    now = zonedTime(2027, 3, 24, TZ, 23, 59);
    expect(await reminders.check()).toBe(0);
    now = at(3, 25, 0);
    expect(await reminders.check()).toBe(1);
    now = at(3, 26);
    expect(await reminders.check()).toBe(0);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.text).toContain(
      'Key `cursor-dev` (owner: alice) expires in 7 days, at the end of 2027-03-31 (Europe/Berlin)',
    );
    expect(posts[0]!.text).toContain('<@U01ALICE>');
    expect(posts[0]!.text).toContain('401 key_expired');

    now = at(3, 31, 0);
    expect(await reminders.check()).toBe(1);
    expect(await reminders.check()).toBe(0);
    expect(posts[1]!.text).toContain('expires at the end of today (2027-03-31, Europe/Berlin)');
    now = at(4, 1, 0);
    expect(await reminders.check()).toBe(0);
    expect(posts).toHaveLength(2);
  });

  it('sends only the most urgent reminder after downtime, and not the missed earlier one later', async () => {
    now = at(3, 31, 8);
    expect(await reminders.check()).toBe(1);
    expect(await reminders.check()).toBe(0);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.text).toContain('at the end of today');
  });

  it('starts over when expires is moved, and skips a key that keys.yaml disables', async () => {
    now = at(3, 25);
    expect(await reminders.check()).toBe(1);
    config = configWith('2027-04-30');
    now = at(4, 24);
    expect(await reminders.check()).toBe(1);
    expect(posts[1]!.text).toContain('at the end of 2027-04-30');
    config = configWith('2027-05-31', { disabled: true });
    now = at(5, 31);
    expect(await reminders.check()).toBe(0);
  });

  it('follows slack.alerts.expiry_days, and [] turns reminders off', async () => {
    config = configWith('2027-03-31', { expiryDays: [14] });
    now = at(3, 18);
    expect(await reminders.check()).toBe(1);
    expect(posts[0]!.text).toContain('expires in 14 days');
    config = configWith('2027-06-30', { expiryDays: [] });
    now = at(6, 30);
    expect(await reminders.check()).toBe(0);
  });

  it('retries a reminder whose post failed at the next check', async () => {
    now = at(3, 25);
    failPosts = true;
    expect(await reminders.check()).toBe(0);
    failPosts = false;
    expect(await reminders.check()).toBe(1);
    expect(posts).toHaveLength(1);
  });

  it('checks at start and again on its schedule', async () => {
    now = at(3, 20);
    reminders.start();
    await reminders.idle();
    expect(posts).toHaveLength(0);
    now = at(3, 25);
    const deadline = Date.now() + 2_000;
    while (posts.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(posts).toHaveLength(1);
  });
});
