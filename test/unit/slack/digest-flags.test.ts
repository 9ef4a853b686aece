import { describe, expect, it } from 'vitest';
import type { KeyConfig } from '../../../src/config/types.js';
import { buildDigest, type Digest, type FlagKind } from '../../../src/slack/digest/build-digest.js';
import type { DisableRecord, UsageRecord } from '../../../src/store/types.js';
import { zonedTime } from '../../../src/windows/calendar.js';
import { makeConfig, makeKey, makeRecord } from '../../helpers/digest-fixtures.js';
import { createDigestMemoryStore } from '../../helpers/digest-memory-store.js';

const TZ = 'Europe/Berlin';
const DAY = '2026-11-26';
const DAY_MS = 86_400_000;
const at = (day: string, hour = 12, minute = 0) => {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return zonedTime(y, m, d, TZ, hour, minute);
};
/** The digest is built the next morning. */
const NOW = at('2026-11-27', 9, 0);

/** A key that raises no hygiene flag of its own: it has limits and an expiry far away. */
function tidyKey(name: string, over: Partial<KeyConfig> = {}): KeyConfig {
  return makeKey(name, {
    limits: { dailyUsd: 1000, monthlyUsd: 10000 },
    expires: '2027-12-31',
    expiresAt: at('2028-01-01', 0, 0),
    ...over,
  });
}

async function build(keys: KeyConfig[], records: UsageRecord[], disabled: DisableRecord[] = []) {
  const store = createDigestMemoryStore(records);
  for (const d of disabled) store.disabledKeys.set(d.key, d);
  const digest = await buildDigest({ store, config: makeConfig(keys), revision: 'rev', day: DAY, now: NOW });
  return { digest, store };
}

function flagged(d: Digest, kind: FlagKind): string[] {
  return d.flags.find((f) => f.kind === kind)?.items.map((i) => i.key) ?? [];
}

function detail(d: Digest, kind: FlagKind, key: string): string | undefined {
  return d.flags.find((f) => f.kind === kind)?.items.find((i) => i.key === key)?.detail;
}

const daysBefore = (n: number) => {
  const [y, m, d] = DAY.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d - n));
  return t.toISOString().slice(0, 10);
};

describe('digest flags', () => {
  it('flags a key at 80% of its daily limit or more, and not below', async () => {
    const keys = ['under', 'near', 'at'].map((n) => tidyKey(n, { limits: { dailyUsd: 5 } }));
    const { digest } = await build(keys, [
      makeRecord(at(DAY), 'under', { costUsd: 3.99 }),
      makeRecord(at(DAY), 'near', { costUsd: 4 }),
      makeRecord(at(DAY), 'at', { costUsd: 5 }),
    ]);
    expect(flagged(digest, 'near_limit')).toEqual(['at', 'near']);
    expect(detail(digest, 'near_limit', 'near')).toBe('80% of its $5.00 daily limit');
    expect(detail(digest, 'near_limit', 'at')).toBe('at its $5.00 daily limit');
  });

  it('flags a key at 80% of its monthly limit over the month to date, and not below', async () => {
    const keys = ['under', 'near'].map((n) => tidyKey(n, { limits: { monthlyUsd: 50 } }));
    const { digest } = await build(keys, [
      makeRecord(at('2026-11-02'), 'under', { costUsd: 39.99 }),
      makeRecord(at('2026-11-02'), 'near', { costUsd: 30 }),
      makeRecord(at(DAY), 'near', { costUsd: 10 }),
      // Spend after the digest day does not count.
      makeRecord(at('2026-11-27'), 'under', { costUsd: 100 }),
    ]);
    expect(flagged(digest, 'near_limit')).toEqual(['near']);
    expect(detail(digest, 'near_limit', 'near')).toBe('80% of its $50.00 monthly limit');
  });

  it('flags a spend spike at twice the 7-day average, and not below', async () => {
    const keys = ['steady', 'spiky'].map((n) => tidyKey(n));
    const history = [1, 2, 3, 4, 5, 6, 7].flatMap((n) => [
      makeRecord(at(daysBefore(n)), 'steady', { costUsd: 1 }),
      makeRecord(at(daysBefore(n)), 'spiky', { costUsd: 1 }),
    ]);
    const { digest } = await build(keys, [
      ...history,
      // Eight days before is outside the average and must not lower it.
      makeRecord(at(daysBefore(8)), 'steady', { costUsd: 100 }),
      makeRecord(at(DAY), 'steady', { costUsd: 1.99 }),
      makeRecord(at(DAY), 'spiky', { costUsd: 2 }),
    ]);
    expect(flagged(digest, 'spike')).toEqual(['spiky']);
    expect(detail(digest, 'spike', 'spiky')).toBe('$2.00 vs $1.00/day over the previous 7 days');
  });

  it('flags new spend of a dollar or more after a quiet week, but not cents', async () => {
    const { digest } = await build(
      [tidyKey('cents'), tidyKey('dollar')],
      [makeRecord(at(DAY), 'cents', { costUsd: 0.99 }), makeRecord(at(DAY), 'dollar', { costUsd: 1 })],
    );
    expect(flagged(digest, 'spike')).toEqual(['dollar']);
    expect(detail(digest, 'spike', 'dollar')).toBe('$1.00 after no spend in the previous 7 days');
  });

  it('flags an error rate above 10%, and not at 10%', async () => {
    const ten = (key: string, failures: number) =>
      Array.from({ length: 10 }, (_, i) => makeRecord(at(DAY), key, { status: i < failures ? 429 : 200 }));
    const { digest } = await build([tidyKey('ok'), tidyKey('bad')], [...ten('ok', 1), ...ten('bad', 2)]);
    expect(flagged(digest, 'error_rate')).toEqual(['bad']);
    expect(detail(digest, 'error_rate', 'bad')).toBe('20% of 10 requests failed (429: 2)');
  });

  it('flags keys unused for the 7 days ending with the digest day, and not one used 6 days before', async () => {
    const keys = ['recent', 'stale', 'never', 'file-off', 'slack-off'].map((n) =>
      tidyKey(n, n === 'file-off' ? { disabled: true } : {}),
    );
    const { digest } = await build(
      keys,
      [makeRecord(at(daysBefore(6)), 'recent'), makeRecord(at(daysBefore(7)), 'stale')],
      [{ key: 'slack-off', reason: 'leak', by: 'U1', source: 'slack', at: at(DAY) }],
    );
    expect(flagged(digest, 'unused')).toEqual(['never', 'stale']);
    expect(detail(digest, 'unused', 'stale')).toBe(`last used ${daysBefore(7)}`);
    expect(detail(digest, 'unused', 'never')).toBe('never used');
  });

  it('does not read every key last use when no key is unused', async () => {
    const { digest, store } = await build([tidyKey('a')], [makeRecord(at(DAY), 'a')]);
    expect(flagged(digest, 'unused')).toEqual([]);
    expect(store.calls.lastUsed).toBe(0);
  });

  it('flags keys expiring within 7 days of now, and not later or already expired', async () => {
    const keys = [
      tidyKey('soon', { expires: '2026-12-03', expiresAt: NOW + 7 * DAY_MS }),
      tidyKey('later', { expires: '2026-12-04', expiresAt: NOW + 7 * DAY_MS + 1 }),
      tidyKey('gone', { expires: '2026-11-20', expiresAt: NOW - 1 }),
    ];
    const { digest } = await build(keys, []);
    expect(flagged(digest, 'expiring')).toEqual(['soon']);
    expect(detail(digest, 'expiring', 'soon')).toContain('expires 2026-12-03');
  });

  it('flags keys disabled from Slack that keys.yaml still enables, and not ones the file disables too', async () => {
    const rec = (key: string): DisableRecord => ({
      key,
      reason: 'loop',
      by: 'U01ALICE',
      source: 'slack',
      at: at(DAY),
    });
    const { digest } = await build(
      [tidyKey('drift'), tidyKey('agreed', { disabled: true }), tidyKey('enabled')],
      [],
      [rec('drift'), rec('agreed'), rec('removed')],
    );
    expect(flagged(digest, 'disabled_drift')).toEqual(['drift', 'removed']);
    expect(detail(digest, 'disabled_drift', 'drift')).toBe(
      `disabled from Slack by U01ALICE on ${DAY}: loop; keys.yaml still enables it`,
    );
    expect(detail(digest, 'disabled_drift', 'removed')).toContain('no longer in keys.yaml');
  });

  it('flags keys without an expiry, and not keys with one or disabled in the file', async () => {
    const keys = [
      tidyKey('dated'),
      makeKey('open', { limits: { dailyUsd: 1 } }),
      makeKey('off', { limits: { dailyUsd: 1 }, disabled: true }),
    ];
    const { digest } = await build(keys, []);
    expect(flagged(digest, 'no_expiry')).toEqual(['open']);
  });

  it('flags keys with neither a daily nor a monthly limit, and not keys with either one', async () => {
    const exp = { expires: '2027-12-31', expiresAt: at('2028-01-01', 0, 0) };
    const keys = [
      makeKey('daily', { ...exp, limits: { dailyUsd: 1 } }),
      makeKey('monthly', { ...exp, limits: { monthlyUsd: 1 } }),
      makeKey('rpm-only', { ...exp, limits: { rpm: 10 } }),
      makeKey('none', { ...exp }),
    ];
    const { digest } = await build(keys, []);
    expect(flagged(digest, 'no_limit')).toEqual(['none', 'rpm-only']);
  });

  it('flags a key that still lists a hash unused for 7 days while another is in use, with when it was last used', async () => {
    const hashes = (n: string) => [1, 2].map((i) => `sha256:${`${n}${i}`.padEnd(64, '0')}`);
    const [oldA, newA] = hashes('a') as [string, string];
    const [oldB, newB] = hashes('b') as [string, string];
    const [oldC, newC] = hashes('c') as [string, string];
    const prefix = (h: string) => h.slice(7, 19);
    const keys = [
      tidyKey('rotated', { hashes: [oldA, newA] }),
      tidyKey('mid-rotation', { hashes: [oldB, newB] }),
      tidyKey('never-deployed', { hashes: [oldC, newC] }),
      tidyKey('quiet', { hashes: [oldA.replace('a', 'd'), newA.replace('a', 'd')] }),
    ];
    const { digest } = await build(keys, [
      makeRecord(at(daysBefore(7)), 'rotated', { keyHash: prefix(oldA) }),
      makeRecord(at(DAY), 'rotated', { keyHash: prefix(newA) }),
      // Used 6 days before the digest day: still inside the 7 days.
      makeRecord(at(daysBefore(6)), 'mid-rotation', { keyHash: prefix(oldB) }),
      makeRecord(at(DAY), 'mid-rotation', { keyHash: prefix(newB) }),
      makeRecord(at(DAY), 'never-deployed', { keyHash: prefix(oldC) }),
    ]);
    expect(flagged(digest, 'stale_hash')).toEqual(['never-deployed', 'rotated']);
    expect(detail(digest, 'stale_hash', 'rotated')).toBe(
      `hash ${prefix(oldA)} last used ${daysBefore(7)} while another of its hashes is in use; drop it from keys.yaml`,
    );
    expect(detail(digest, 'stale_hash', 'never-deployed')).toContain(
      `hash ${prefix(newC)} not used in the last 30 days`,
    );
    // Both hashes used in the last 7 days: a rotation in progress, with each hash's last use.
    expect(flagged(digest, 'rotating')).toEqual(['mid-rotation']);
    expect(detail(digest, 'rotating', 'mid-rotation')).toBe(
      `${prefix(oldB)} last used ${daysBefore(6)}, ${prefix(newB)} last used ${DAY}`,
    );
  });

  it('raises no flag at all for a tidy, quiet, healthy set of keys', async () => {
    const { digest } = await build(
      [tidyKey('a'), tidyKey('b')],
      [makeRecord(at(DAY), 'a', { costUsd: 0.5 }), makeRecord(at(daysBefore(3)), 'b', { costUsd: 0.5 })],
    );
    expect(digest.flags).toEqual([]);
  });
});
