/**
 * The in-memory rate limiter (SQLite's rpm, tpm and max_parallel) against a naive model that
 * keeps every request: random acquires, releases (with real token counts or none) and clock
 * steps, for a key with all three limits, a key with rpm only, and their group.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryRateLimiter } from '../../../src/store/memory-rate.js';

interface Ev {
  id: string;
  ts: number;
  tokens: number;
  lease: number;
  released: boolean;
}

describe('the in-memory rate limiter', () => {
  it('admits and refuses exactly what a model that keeps every request does', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              t: fc.constant('acq' as const),
              key: fc.constantFrom('a', 'b'),
              tokens: fc.integer({ min: 0, max: 60 }),
              lease: fc.integer({ min: 1, max: 200_000 }),
            }),
            fc.record({
              t: fc.constant('rel' as const),
              pick: fc.nat(),
              tokens: fc.option(fc.integer({ min: 0, max: 80 })),
            }),
            fc.record({ t: fc.constant('step' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
          ),
          { maxLength: 400 },
        ),
        (ops) => {
          const lim = createMemoryRateLimiter();
          const L = { a: { rpm: 5, maxParallel: 3, tpm: 150 }, b: { rpm: 7 } } as const;
          const G = { rpm: 9, maxParallel: 4, tpm: 200 };
          const subj: Record<string, Ev[]> = { a: [], b: [], '@g': [] };
          let now = 1_000_000;
          let n = 0;
          const held: { id: string; key: 'a' | 'b' }[] = [];
          for (const op of ops) {
            if (op.t === 'step') {
              now += op.ms;
              continue;
            }
            if (op.t === 'acq') {
              const id = `r${n++}`;
              const kl = L[op.key] as { rpm?: number; maxParallel?: number; tpm?: number };
              const fits = (evs: Ev[], l: { rpm?: number; maxParallel?: number; tpm?: number }) => {
                const live = evs.filter((e) => e.ts > now - 60_000);
                if (
                  l.maxParallel !== undefined &&
                  evs.filter((e) => !e.released && e.lease > now).length >= l.maxParallel
                )
                  return false;
                if (l.rpm !== undefined && live.length >= l.rpm) return false;
                if (l.tpm !== undefined && live.reduce((s, e) => s + e.tokens, 0) + op.tokens > l.tpm)
                  return false;
                return true;
              };
              const ok = fits(subj[op.key] as Ev[], kl) && fits(subj['@g'] as Ev[], G);
              const r = lim.acquireSlot({
                id,
                key: op.key,
                now,
                leaseUntil: now + op.lease,
                ...kl,
                tokens: op.tokens,
                group: { subject: '@g', ...G },
              });
              expect(r.ok, JSON.stringify({ id, now })).toBe(ok);
              if (ok) {
                for (const s of [op.key, '@g'])
                  (subj[s] as Ev[]).push({
                    id,
                    ts: now,
                    tokens: op.tokens,
                    lease: now + op.lease,
                    released: false,
                  });
                held.push({ id, key: op.key });
              }
              continue;
            }
            if (held.length === 0) continue;
            const h = held.splice(op.pick % held.length, 1)[0] as { id: string; key: 'a' | 'b' };
            lim.releaseSlot(h.id, h.key, {
              group: '@g',
              ...(op.tokens === null ? {} : { tokens: op.tokens }),
            });
            for (const s of [h.key, '@g'])
              for (const e of subj[s] as Ev[])
                if (e.id === h.id) {
                  e.released = true;
                  // tokens settle only while the event is still in the minute (as the limiter keeps it)
                  if (op.tokens !== null && e.ts > now - 60_000) e.tokens = op.tokens;
                }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
