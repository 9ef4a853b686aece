import { afterEach, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/log.js';
import { createDigestScheduler, type DigestScheduler } from '../../src/schedule/digest-scheduler.js';
import { buildDigest } from '../../src/slack/digest/build-digest.js';
import type { Store } from '../../src/store/types.js';
import { zonedTime } from '../../src/windows/calendar.js';
import { makeConfig, makeKey, makeRecord } from '../helpers/digest-fixtures.js';
import { storeBackends } from '../helpers/store-backends.js';

const TZ = 'Europe/Berlin';
const berlin = (day: string, h: number, mi = 0) => {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return zonedTime(y, m, d, TZ, h, mi);
};

const config = makeConfig([makeKey('cursor-dev', { limits: { dailyUsd: 5 } }), makeKey('ci-bot')]);
const loaded: LoadedConfig = { config, revision: 'rev', loadedAt: 0, keysByHash: new Map() };

describe.each(storeBackends())('digest on $name shared by two replicas', (backend) => {
  const schedulers: DigestScheduler[] = [];
  afterEach(async () => {
    for (const s of schedulers.splice(0)) s.stop();
    await backend.destroy();
  });

  function replica(store: Store, posts: string[], clock: () => number): DigestScheduler {
    const s = createDigestScheduler({
      store,
      config: { current: () => loaded },
      clock,
      log: silentLogger(),
      post: async (msg) => {
        posts.push(msg.text);
      },
      cronExpression: '*/2 * * * * *',
    });
    schedulers.push(s);
    return s;
  }

  it('sends one digest per day between two replicas ticking every 2 seconds', async () => {
    const a = await backend.create();
    const b = await backend.create();
    let attempts = 0;
    for (const s of [a, b]) {
      const claimOnce = s.claimOnce.bind(s);
      s.claimOnce = (scope, id, at) => {
        attempts++;
        return claimOnce(scope, id, at);
      };
    }
    const posts: string[] = [];
    const clock = () => berlin('2026-11-27', 10);
    const replicas = [replica(a, posts, clock), replica(b, posts, clock)];
    await Promise.all(replicas.map((r) => r.start()));
    const deadline = Date.now() + 8_000;
    while (attempts < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(replicas.map((r) => r.idle()));
    expect(attempts).toBeGreaterThanOrEqual(6);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain('digest for 2026-11-26');
  });

  it('reads the day written by one replica from the other, across midnight in the server timezone', async () => {
    const writer = await backend.create();
    const reader = await backend.create();
    const records = [
      makeRecord(berlin('2026-03-28', 23, 59), 'cursor-dev', { costUsd: 1 }),
      makeRecord(berlin('2026-03-29', 0, 1), 'cursor-dev', { costUsd: 2 }),
      makeRecord(berlin('2026-03-29', 12, 0), 'ci-bot', { costUsd: 0.25, status: 502 }),
      makeRecord(berlin('2026-03-29', 23, 59), 'ci-bot', { costUsd: 0.5 }),
      makeRecord(berlin('2026-03-30', 0, 1), 'ci-bot', { costUsd: 8 }),
    ];
    for (const r of records) await writer.settle(r, [`d:${r.day}`]);
    const d = await buildDigest({
      store: reader,
      config,
      revision: 'rev',
      day: '2026-03-29',
      now: berlin('2026-03-30', 9),
    });
    expect(d.total.costUsd).toBeCloseTo(2.75, 9);
    expect(d.total.previousDayCostUsd).toBeCloseTo(1, 9);
    expect(d.keys.map((k) => [k.key, k.requests, k.errors])).toEqual([
      ['cursor-dev', 1, 0],
      ['ci-bot', 2, 1],
    ]);
  });
});
