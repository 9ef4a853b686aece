import { afterEach, describe, expect, it } from 'vitest';
import type { Config, ConfigHolder, LoadedConfig } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/log.js';
import { createDigestScheduler, type DigestScheduler } from '../../../src/schedule/digest-scheduler.js';
import type { DigestMessage } from '../../../src/slack/digest/render-blocks.js';
import { zonedTime } from '../../../src/windows/calendar.js';
import { makeConfig, makeKey, makeRecord } from '../../helpers/digest-fixtures.js';
import { createDigestMemoryStore, type DigestMemoryStore } from '../../helpers/digest-memory-store.js';

const TZ = 'Europe/Berlin';
const DAY_MS = 86_400_000;
const berlin = (y: number, m: number, d: number, h: number, mi = 0) => zonedTime(y, m, d, TZ, h, mi);

function holder(config: Config): ConfigHolder {
  const loaded: LoadedConfig = { config, revision: 'rev-1', loadedAt: 0, keysByHash: new Map() };
  return { current: () => loaded };
}

const started: DigestScheduler[] = [];
afterEach(() => {
  for (const s of started.splice(0)) s.stop();
});

interface Harness {
  scheduler: DigestScheduler;
  posts: DigestMessage[];
  setNow(ms: number): void;
}

function harness(opts: {
  store: DigestMemoryStore;
  now: number;
  cron?: string;
  post?: (msg: DigestMessage) => Promise<void>;
  posts?: DigestMessage[];
  retryMs?: number;
  clock?: { now: number };
}): Harness {
  const posts = opts.posts ?? [];
  const clock = opts.clock ?? { now: opts.now };
  const scheduler = createDigestScheduler({
    store: opts.store,
    config: holder(makeConfig([makeKey('cursor-dev', { limits: { dailyUsd: 5 } })])),
    clock: () => clock.now,
    log: silentLogger(),
    post:
      opts.post ??
      (async (msg) => {
        posts.push(msg);
      }),
    ...(opts.cron ? { cronExpression: opts.cron } : {}),
    ...(opts.retryMs ? { retryMs: opts.retryMs } : {}),
  });
  started.push(scheduler);
  return {
    scheduler,
    posts,
    setNow: (ms) => {
      clock.now = ms;
    },
  };
}

/** Counts claim attempts, i.e. runs of the job, to wait for ticks without guessing at timing. */
function countClaims(store: DigestMemoryStore): { calls: number } {
  const counter = { calls: 0 };
  const original = store.claimOnce.bind(store);
  store.claimOnce = (scope, id, at) => {
    counter.calls++;
    return original(scope, id, at);
  };
  return counter;
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const dayOfPost = (msg: DigestMessage) => /digest for (\d{4}-\d{2}-\d{2})/.exec(msg.text)?.[1];

describe('digest scheduler', () => {
  it('sends a day once and refuses the same day again unless forced', async () => {
    const store = createDigestMemoryStore();
    const { scheduler, posts } = harness({ store, now: berlin(2026, 11, 27, 10) });
    expect(await scheduler.runFor('2026-11-26')).toBe('sent');
    expect(await scheduler.runFor('2026-11-26')).toBe('already-sent');
    expect(posts).toHaveLength(1);
    expect(await scheduler.runFor('2026-11-26', { force: true })).toBe('sent');
    expect(posts).toHaveLength(2);
    expect(store.claims.has('digest:2026-11-26')).toBe(true);
  });

  it('does not take the guard on a forced send, so the scheduled send still happens', async () => {
    const store = createDigestMemoryStore();
    const { scheduler, posts } = harness({ store, now: berlin(2026, 11, 27, 10) });
    expect(await scheduler.runFor('2026-11-26', { force: true })).toBe('sent');
    expect(store.claims.size).toBe(0);
    expect(await scheduler.runFor('2026-11-26')).toBe('sent');
    expect(posts).toHaveLength(2);
  });

  it('releases the guard when the post fails, so a later attempt sends the day', async () => {
    const store = createDigestMemoryStore();
    let fail = true;
    const posts: DigestMessage[] = [];
    const { scheduler } = harness({
      store,
      now: berlin(2026, 11, 27, 10),
      post: async (msg) => {
        if (fail) throw new Error('slack is down');
        posts.push(msg);
      },
    });
    expect(await scheduler.runFor('2026-11-26')).toBe('failed');
    expect(store.claims.size).toBe(0);
    fail = false;
    expect(await scheduler.runFor('2026-11-26')).toBe('sent');
    expect(posts).toHaveLength(1);
  });

  it('posts the digest of the requested day with its numbers', async () => {
    const store = createDigestMemoryStore([
      makeRecord(berlin(2026, 11, 26, 12), 'cursor-dev', { costUsd: 4.98 }),
    ]);
    const { scheduler, posts } = harness({ store, now: berlin(2026, 11, 27, 10) });
    await scheduler.runFor('2026-11-26');
    expect(posts[0]?.text).toContain('tollgate spend digest for 2026-11-26: $4.98 spent');
    expect(posts[0]?.blocks.length).toBeGreaterThan(2);
  });

  it("says yesterday's digest is due once today's scheduled time has passed, else the day before", () => {
    const store = createDigestMemoryStore();
    const { scheduler } = harness({ store, now: 0, cron: '0 9 * * *' });
    expect(scheduler.dueDay(berlin(2026, 11, 27, 10))).toBe('2026-11-26');
    expect(scheduler.dueDay(berlin(2026, 11, 27, 8))).toBe('2026-11-25');
    // Just after local midnight at the start of winter time, "yesterday" is the 25-hour day.
    expect(scheduler.dueDay(berlin(2026, 10, 26, 9))).toBe('2026-10-25');
  });

  it('catches up the missed digest at start, once, even across restarts', async () => {
    const store = createDigestMemoryStore();
    const posts: DigestMessage[] = [];
    const first = harness({ store, now: berlin(2026, 11, 27, 10), cron: '0 9 * * *', posts });
    await first.scheduler.start();
    await first.scheduler.idle();
    first.scheduler.stop();
    const second = harness({ store, now: berlin(2026, 11, 27, 11), cron: '0 9 * * *', posts });
    await second.scheduler.start();
    await second.scheduler.idle();
    expect(posts.map(dayOfPost)).toEqual(['2026-11-26']);
  });

  it('catches up only the most recent missed day after several days down', async () => {
    const store = createDigestMemoryStore();
    await store.claimOnce('digest', '2026-11-20', 0);
    const { scheduler, posts } = harness({ store, now: berlin(2026, 11, 27, 8), cron: '0 9 * * *' });
    await scheduler.start();
    await scheduler.idle();
    // Before 09:00 the due digest is the day before yesterday's.
    expect(posts.map(dayOfPost)).toEqual(['2026-11-25']);
  });

  it('retries a failed catch-up while that day is still due', async () => {
    const store = createDigestMemoryStore();
    let attempts = 0;
    const posts: DigestMessage[] = [];
    const { scheduler } = harness({
      store,
      now: berlin(2026, 11, 27, 10),
      cron: '0 9 * * *',
      retryMs: 20,
      post: async (msg) => {
        attempts++;
        if (attempts < 3) throw new Error('slack is down');
        posts.push(msg);
      },
    });
    await scheduler.start();
    await waitFor(() => posts.length === 1, 5_000);
    expect(attempts).toBe(3);
    expect(posts.map(dayOfPost)).toEqual(['2026-11-26']);
  });

  it('sends one digest per day from a schedule firing every 2 seconds', async () => {
    const store = createDigestMemoryStore();
    const claims = countClaims(store);
    const h = harness({ store, now: berlin(2026, 11, 27, 10), cron: '*/2 * * * * *' });
    await h.scheduler.start();
    // The catch-up plus at least two ticks, all for 2026-11-26.
    await waitFor(() => claims.calls >= 3, 8_000);
    await h.scheduler.idle();
    expect(h.posts.map(dayOfPost)).toEqual(['2026-11-26']);
    // A day later, the ticks cover the new previous day, once.
    h.setNow(berlin(2026, 11, 27, 10) + DAY_MS);
    const before = claims.calls;
    await waitFor(() => claims.calls >= before + 2, 8_000);
    await h.scheduler.idle();
    expect(h.posts.map(dayOfPost)).toEqual(['2026-11-26', '2026-11-27']);
  });

  it('sends one digest when two schedulers share a store', async () => {
    const store = createDigestMemoryStore();
    const claims = countClaims(store);
    const posts: DigestMessage[] = [];
    const clock = { now: berlin(2026, 11, 27, 10) };
    const a = harness({ store, now: 0, clock, cron: '*/2 * * * * *', posts });
    const b = harness({ store, now: 0, clock, cron: '*/2 * * * * *', posts });
    await Promise.all([a.scheduler.start(), b.scheduler.start()]);
    await waitFor(() => claims.calls >= 6, 8_000);
    await Promise.all([a.scheduler.idle(), b.scheduler.idle()]);
    expect(posts.map(dayOfPost)).toEqual(['2026-11-26']);
  });

  it('moves the job when a reload changes slack.digest, and sends what the new time makes due', async () => {
    const store = createDigestMemoryStore();
    const base = makeConfig([makeKey('cursor-dev')]);
    let current: LoadedConfig = { config: base, revision: 'rev-1', loadedAt: 0, keysByHash: new Map() };
    const posts: DigestMessage[] = [];
    const scheduler = createDigestScheduler({
      store,
      config: { current: () => current },
      clock: () => berlin(2026, 11, 27, 8),
      log: silentLogger(),
      post: async (msg) => {
        posts.push(msg);
      },
      reloadCheckMs: 20,
    });
    started.push(scheduler);
    await scheduler.start();
    await scheduler.idle();
    // At 08:00 with a 09:00 digest, the day before yesterday is the one due.
    expect(posts.map(dayOfPost)).toEqual(['2026-11-25']);
    const slack = { ...base.slack!, digest: '0 7 * * *' };
    current = { ...current, config: { ...base, slack }, revision: 'rev-2' };
    await waitFor(() => posts.length === 2, 3_000);
    expect(posts.map(dayOfPost)).toEqual(['2026-11-25', '2026-11-26']);
    expect(scheduler.dueDay(berlin(2026, 11, 27, 8))).toBe('2026-11-26');
  });

  it('stops firing after stop()', async () => {
    const store = createDigestMemoryStore();
    const claims = countClaims(store);
    const h = harness({ store, now: berlin(2026, 11, 27, 10), cron: '*/2 * * * * *' });
    await h.scheduler.start();
    await h.scheduler.idle();
    h.scheduler.stop();
    const after = claims.calls;
    await new Promise((r) => setTimeout(r, 2_500));
    expect(claims.calls).toBe(after);
  });
});
