import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load/load.js';
import type { Config } from '../../src/config/types.js';
import type { InsightReader } from '../../src/insights/read-period.js';
import { buildInsightLines } from '../../src/slack/digest/insight-lines.js';
import type { InsightQuery } from '../../src/store/insight-types.js';
import type { Store, UsageRecord } from '../../src/store/types.js';
import { dayRange } from '../../src/windows/bounds.js';
import { dayOf } from '../../src/windows/calendar.js';
import { storeBackends } from '../helpers/store-backends.js';

/**
 * The digest's findings (docs/insights.md#cost) are computed only for the keys whose findings
 * could be shown: those of a group, and the others dearest first while their spend, bounded from
 * the rollup (spendCeilings), could still reach the shown findings. The digest's insights are
 * the same as when every key is computed, on both stores, in zones on whole hours and on half
 * hours (where the bound is an hour's spend over), with ties between keys; and the bound is never
 * under a key's spend.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// 2026-11-25 … 2026-11-28 UTC: the digest days below, with a day of records either side.
const START = Date.UTC(2026, 10, 25);
const KEYS = 36;

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
const keyName = (i: number) => `k${String(i).padStart(2, '0')}`;

/**
 * Keys from cheap to dear (each a quarter dearer than the one before), some twice the same
 * (k{odd} repeats k{odd-1} record for record from k27 up, so findings tie among the dearest), a few in groups,
 * half without limits (no_limit), a key not in the config, and a shape per record that makes
 * the other findings: long context, small requests on the big model, capped answers, nights,
 * two clients, loops of one fingerprint.
 */
function records(seed: number): UsageRecord[] {
  const rnd = random(seed);
  const out: UsageRecord[] = [];
  for (let i = 0; i <= KEYS; i++) {
    const key = i === KEYS ? 'ghost' : keyName(i);
    const twin = i % 2 === 1 && i > 26 && i < KEYS;
    const local = twin ? random(seed * 100 + i - 1) : rnd;
    const scale = 0.001 * 1.25 ** (twin ? i - 1 : i);
    for (let n = 0; n < 24; n++) {
      const shape = pick(local, ['plain', 'plain', 'long', 'small', 'capped', 'loop']);
      const status = pick(local, [200, 200, 200, 200, 500, 429]);
      const ts = START + Math.floor(local() * 3 * DAY);
      const inputTokens = shape === 'long' ? 40_000 : shape === 'small' ? 300 : pick(local, [2_000, 8_000]);
      const outputTokens = shape === 'small' ? 200 : shape === 'capped' ? 1_000 : pick(local, [100, 1_500]);
      out.push({
        requestId: `${key}-${n}`,
        ts,
        day: dayOf(ts, 'Europe/Berlin'),
        key,
        model: shape === 'small' || local() < 0.3 ? 'big-model' : 'small-model',
        upstream: 'openai',
        route: '/v1/chat/completions',
        status,
        errorCode: status === 200 ? null : 'upstream_error',
        inputTokens,
        outputTokens,
        cachedTokens: 0,
        cacheWriteTokens: 0,
        costUsd: Math.round(scale * (1 + local() * 3) * 1e6) / 1e6,
        latencyMs: 5,
        stream: false,
        userAgent: pick(local, ['OpenAI/JS 6.1.0', 'OpenAI/JS 6.1.0', 'curl/8.5.0']),
        ip: '10.0.0.1',
        configRevision: 'r',
        usageSource: 'provider',
        outputLimit: shape === 'capped' ? 1_000 : null,
        requestFp: shape === 'loop' ? `fp-${key}` : null,
      });
    }
    // A loop: twelve of one request within two minutes.
    if (i % 5 === 0) {
      for (let n = 0; n < 12; n++) {
        const ts = START + DAY + 10 * HOUR + n * 10_000;
        out.push({
          ...(out.at(-1) as UsageRecord),
          requestId: `${key}-loop-${n}`,
          ts,
          day: dayOf(ts, 'Europe/Berlin'),
          status: 200,
          errorCode: null,
          requestFp: `loop-${key}`,
        });
      }
    }
  }
  return out;
}

function config(timeZone: string): Config {
  const keys = Array.from({ length: KEYS }, (_, i) => {
    const group = i % 7 === 3 ? '\n    group: team' : i % 11 === 4 ? '\n    group: solo' : '';
    const limits = i % 2 === 0 ? '\n    limits: { daily_usd: 500 }' : '';
    return `  ${keyName(i)}:\n    hash: "sha256:${i.toString(16).padStart(64, '0')}"\n    models: [big-model, small-model]${group}${limits}`;
  }).join('\n');
  const yaml = `version: 1
server: { timezone: ${timeZone} }
upstreams:
  openai: { base_url: "https://api.openai.com/v1", api_key: "\${OPENAI_API_KEY}" }
models:
  big-model: { upstream: openai, input_per_mtok: 15, output_per_mtok: 75, cached_input_per_mtok: 1.5 }
  small-model: { upstream: openai, input_per_mtok: 0.5, output_per_mtok: 1.5, cached_input_per_mtok: 0.05 }
keys:
${keys}
groups:
  team: { description: one team }
  solo: { description: a group of one key }
`;
  const loaded = loadConfig(yaml, { file: 'ceilings.yaml', now: START });
  if (!loaded.config) throw new Error(loaded.errors.map((e) => e.message).join('; '));
  return loaded.config;
}

/** The store with every read the digest's insights make, counting the keys computed. */
function counting(
  store: Store,
  withCeilings: boolean,
): InsightReader & { keys: string[]; daysRead: string[] } {
  const keys: string[] = [];
  const daysRead: string[] = [];
  return {
    keys,
    daysRead,
    keepSecret: (name, candidate) => store.keepSecret(name, candidate),
    insightFacts: (q: InsightQuery) => {
      if (q.key !== undefined) keys.push(q.key);
      return store.insightFacts(q);
    },
    inputTokensAtRank: (key, since, until, rank) => store.inputTokensAtRank(key, since, until, rank),
    dailyTotals: (q) => {
      daysRead.push(q.key ?? '(every key)');
      return store.dailyTotals(q);
    },
    ...(withCeilings
      ? { spendCeilings: (since: number, until: number) => store.spendCeilings(since, until) }
      : {}),
  };
}

const ZONES = ['Europe/Berlin', 'America/Los_Angeles', 'Asia/Kolkata', 'UTC'];
const DAYS = ['2026-11-26', '2026-11-27'];

describe.each(storeBackends())('the digest computes the findings of the keys it could show', (backend) => {
  let store: Store;
  const written = records(5);

  beforeAll(async () => {
    store = await backend.create();
    for (let i = 0; i < written.length; i += 50) {
      await Promise.all(written.slice(i, i + 50).map((r) => store.settle(r, [])));
    }
  }, 60_000);
  afterAll(async () => {
    await backend.destroy();
  });

  it.each(ZONES)(
    `${backend.name}: the same findings and shared causes as every key's, in %s`,
    async (zone) => {
      const cfg = config(zone);
      let pruned = 0;
      for (const day of DAYS) {
        const all = counting(store, false);
        const some = counting(store, true);
        const expected = await buildInsightLines(all, cfg, day);
        const got = await buildInsightLines(some, cfg, day);
        expect(got).toEqual(expected);
        expect(expected.findings.length).toBe(8);
        expect(expected.groups.length).toBeGreaterThan(0);
        expect(all.keys.length).toBe(KEYS);
        pruned += all.keys.length - some.keys.length;
        // Every key's dearest day at once when every key is computed, each computed key's own else.
        expect(all.daysRead).toEqual(['(every key)']);
        expect(some.daysRead).not.toContain('(every key)');
        expect(some.daysRead.length).toBeGreaterThan(0);
      }
      expect(pruned).toBeGreaterThan(DAYS.length * 10);
    },
  );

  it(`${backend.name}: bounds each key's spend from the rollup, exactly on whole hours`, async () => {
    for (const zone of ZONES) {
      for (const day of DAYS) {
        const { start, end } = dayRange(day, zone);
        const ceilings = await store.spendCeilings(start, end);
        const spent = new Map<string, number>();
        for (const r of written) {
          if (r.ts >= start && r.ts < end) spent.set(r.key, (spent.get(r.key) ?? 0) + r.costUsd);
        }
        // Kolkata's days start on a half hour: the bound takes in the half hours either side.
        const wholeHours = zone !== 'Asia/Kolkata';
        if (wholeHours) expect([...ceilings.keys()].sort()).toEqual([...spent.keys()].sort());
        for (const [key, usd] of spent) {
          const ceiling = ceilings.get(key) ?? 0;
          expect(ceiling).toBeGreaterThanOrEqual(usd - 1e-9);
          if (wholeHours) expect(ceiling).toBeCloseTo(usd, 9);
        }
      }
    }
  });
});
