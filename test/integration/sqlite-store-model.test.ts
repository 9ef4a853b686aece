/**
 * The SQLite store against a model of spend and holds, for both writers (the write worker, and
 * reserve and settle on the event loop with one CPU): 1,500 rounds of concurrent calls in one
 * group commit — reserves that fit or not (key and group day windows), settles below and above
 * their hold, settles repeated in one batch and later, reserves repeated under an id already held,
 * settled or swept, sweeps of expired holds with late settles after them, a settle that throws
 * inside a batch, write probes — and after each round every spend row's spent and reserved equal
 * the model's. Seeded, so a failure replays.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ReserveRequest, Store } from '../../src/store/types.js';
import { sqliteBackend } from '../helpers/store-backends.js';
import { usageRecord } from '../helpers/usage-record.js';

const DAY = 'd:2026-11-26';
const MONTH = 'm:2026-11';
const GDAY = '@g/d:2026-11-26';
const GMONTH = '@g/m:2026-11';
const PERIODS = [DAY, MONTH, GDAY, GMONTH];
const NOON = Date.UTC(2026, 10, 26, 12);
const FAR = 8_640_000_000_000_000;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const usage = (requestId: string, key: string, costUsd: number) =>
  usageRecord({ requestId, key, costUsd, ts: NOON, inputTokens: 1, outputTokens: 1 });

for (const cpus of [2, 1]) {
  describe(`the SQLite store with ${cpus === 1 ? 'one CPU (writes on the event loop)' : 'the write worker'}`, () => {
    const backend = sqliteBackend(cpus);
    afterEach(() => backend.destroy());
    it('keeps every spend row equal to the model through concurrent reserves, settles, repeats and sweeps', async () => {
      const store: Store = await backend.create();
      const rand = rng(cpus * 7919 + 5);
      const keys = ['k1', 'k2'];
      const amounts = [0.1, 0.07, 0.3, 0.013, 0.2];
      // model
      const spent: Record<string, number> = {};
      const reservedOf: Record<string, number> = {};
      const add = (key: string, s: number, r: number) => {
        for (const p of PERIODS) {
          const row = p.startsWith('@') ? p : `${key}|${p}`;
          spent[row] = (spent[row] ?? 0) + s;
          reservedOf[row] = (reservedOf[row] ?? 0) + r;
        }
      };
      const outstanding = new Map<string, { key: string; amount: number; short: boolean }>();
      const swept = new Map<string, { key: string; amount: number }>();
      const settled = new Map<string, { key: string; cost: number }>();
      let n = 0;
      for (let round = 0; round < 1500; round++) {
        const calls: (() => Promise<unknown>)[] = [];
        const ops = 1 + Math.floor(rand() * 8);
        for (let i = 0; i < ops; i++) {
          const x = rand();
          if (x < 0.4) {
            const key = keys[Math.floor(rand() * 2)] as string;
            const amount = amounts[Math.floor(rand() * amounts.length)] as number;
            const short = rand() < 0.3;
            const id = `r${n++}`;
            const r: ReserveRequest = {
              id,
              key,
              amountUsd: amount,
              windows: [
                { period: DAY, limitUsd: 1 },
                { period: GDAY, limitUsd: 1.5 },
              ],
              periods: PERIODS,
              leaseUntil: short ? NOON + 1000 : FAR,
            };
            // model: predict
            const kd = (spent[`${key}|${DAY}`] ?? 0) + (reservedOf[`${key}|${DAY}`] ?? 0);
            const gd = (spent[GDAY] ?? 0) + (reservedOf[GDAY] ?? 0);
            const fits = kd + amount <= 1 + 1e-12 && gd + amount <= 1.5 + 1e-12;
            if (fits) {
              add(key, 0, amount);
              outstanding.set(id, { key, amount, short });
            }
            calls.push(async () => {
              const res = await store.reserve(r);
              expect(res.ok, `${id} fits=${fits}`).toBe(fits);
            });
          } else if (x < 0.7) {
            const all = [...outstanding.keys(), ...swept.keys()];
            if (all.length === 0) continue;
            const id = all[Math.floor(rand() * all.length)] as string;
            const o = outstanding.get(id) ?? swept.get(id);
            if (!o) continue;
            const cost = Math.round(rand() * o.amount * 2 * 1000) / 1000;
            if (outstanding.has(id)) {
              add(o.key, cost, -o.amount);
              outstanding.delete(id);
            } else {
              add(o.key, cost - o.amount, 0);
              swept.delete(id);
            }
            settled.set(id, { key: o.key, cost });
            const times = rand() < 0.2 ? 2 : 1;
            for (let t = 0; t < times; t++) calls.push(() => store.settle(usage(id, o.key, cost), PERIODS));
          } else if (x < 0.8) {
            const all = [...settled.keys()];
            if (all.length === 0) continue;
            const id = all[Math.floor(rand() * all.length)] as string;
            const s = settled.get(id) as { key: string; cost: number };
            calls.push(() => store.settle(usage(id, s.key, s.cost), PERIODS));
          } else if (x < 0.9) {
            if (calls.length > 0) continue;
            for (const [id, o] of outstanding) {
              if (!o.short) continue;
              add(o.key, o.amount, -o.amount);
              outstanding.delete(id);
              swept.set(id, { key: o.key, amount: o.amount });
            }
            calls.push(() => store.recoverReservations(NOON + 10_000));
            break;
          } else if (x < 0.93) {
            // a reserve repeated under an id already reserved, settled or swept: holds nothing more
            const all = [...outstanding.keys(), ...settled.keys(), ...swept.keys()];
            if (all.length === 0) continue;
            const id = all[Math.floor(rand() * all.length)] as string;
            const o = outstanding.get(id) ?? settled.get(id) ?? swept.get(id);
            if (!o) continue;
            const r: ReserveRequest = {
              id,
              key: o.key,
              amountUsd: 0.5,
              windows: [
                { period: DAY, limitUsd: 1 },
                { period: GDAY, limitUsd: 1.5 },
              ],
              periods: PERIODS,
              leaseUntil: FAR,
            };
            calls.push(async () => {
              const res = await store.reserve(r);
              expect(res.ok).toBe(true);
            });
          } else if (x < 0.96) {
            const bad = { ...usage(`bad${n++}`, 'k1', 0.5), model: {} as unknown as string };
            calls.push(() =>
              store.settle(bad, PERIODS).then(
                () => {
                  throw new Error('bad settle passed');
                },
                () => undefined,
              ),
            );
          } else {
            if (!store.probeWrites) throw new Error('the SQLite store probes its writes');
            calls.push(async () => store.probeWrites?.(NOON + round));
          }
        }
        await Promise.all(calls.map((c) => c()));
        for (const key of keys) {
          const s = await store.getSpend(key, PERIODS);
          for (const p of PERIODS) {
            const row = p.startsWith('@') ? p : `${key}|${p}`;
            expect(s[p]?.spentUsd ?? 0, `${round} ${row} spent`).toBeCloseTo(spent[row] ?? 0, 9);
            expect(s[p]?.reservedUsd ?? 0, `${round} ${row} reserved`).toBeCloseTo(reservedOf[row] ?? 0, 9);
          }
        }
      }
    }, 120_000);
  });
}
