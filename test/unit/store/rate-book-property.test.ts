import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createRateBook,
  type RateBook,
  type RatePlan,
  type RateRoundPlan,
  type RateRoundResult,
} from '../../../src/store/postgres/leases/rate-book.js';

/**
 * Random interleavings of requests, request ends, rate lease rounds (answered, failed, answer
 * lost), clock steps and replica crashes on three replicas, against a model of the database that
 * does what migration 18's tollgate_rate_round and the one-by-one slot path do. Whatever
 * happens, no 60 s window ever admits more requests than rpm, nor more tokens than tpm (counting
 * the real tokens of requests that ended and the admitted estimate of those still running).
 */

const RPM = 48;
const TPM = 4_800;
const PLAN: RatePlan = { subjects: ['k'], rpm: [RPM], tpm: [TPM] };
const HORIZON = 2_000;

interface Row {
  id: string;
  ts: number;
  n: number;
  tokens: number;
}

/** The database: one subject's rate_events / token_events rows (a request's n is 1). */
function modelDb() {
  let rows: Row[] = [];
  const expire = (now: number) => {
    rows = rows.filter((r) => r.ts > now - 60_000);
  };
  const counts = () => rows.reduce((a, r) => ({ n: a.n + r.n, t: a.t + r.tokens }), { n: 0, t: 0 });
  return {
    /** The requests and tokens counted now. */
    counted: (now: number) => {
      expire(now);
      return counts();
    },
    /** The one-by-one path (tollgate_acquire_slots_locked). */
    acquire(id: string, tokens: number, now: number): boolean {
      expire(now);
      const c = counts();
      if (c.n + 1 > RPM || c.t + tokens > TPM) return false;
      rows.push({ id, ts: now, n: 1, tokens });
      return true;
    },
    release(id: string, tokens: number) {
      for (const r of rows) if (r.id === id) r.tokens = tokens;
    },
    round(plan: RateRoundPlan): RateRoundResult {
      // As migration 18 does: a trim finds its rows by id and stamp.
      for (const t of plan.trims)
        for (const r of rows)
          if (r.id === t.id && r.ts === t.stamp) {
            if (t.requests !== null) r.n = t.requests;
            if (t.tokens !== null) r.tokens = t.tokens;
          }
      rows = rows.filter((r) => r.n > 0 || !r.id.startsWith('lease'));
      const out: RateRoundResult = new Map();
      for (const g of plan.grants) {
        expire(plan.now);
        const c = counts();
        const n = Math.min(g.wantRequests ?? 0, Math.floor(Math.max(RPM - c.n, 0) / 4));
        const t = Math.min(g.wantTokens ?? 0, Math.floor(Math.max(TPM - c.t, 0) / 4));
        if (n < (g.minRequests ?? 0) || n <= 0 || t < (g.minTokens ?? 0) || t <= 0) {
          out.set(g.id, { requests: 0, tokens: 0 });
          continue;
        }
        rows.push({ id: g.id, ts: g.stamp, n, tokens: t });
        out.set(g.id, { requests: n, tokens: t });
      }
      return out;
    },
  };
}

type Op =
  | { kind: 'take'; replica: number; tokens: number }
  | { kind: 'end'; pick: number; share: number }
  | { kind: 'round'; replica: number; outcome: 'ok' | 'fail' | 'lost' }
  | { kind: 'step'; ms: number }
  | { kind: 'crash'; replica: number }
  | { kind: 'revoke'; replica: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('take' as const),
      replica: fc.nat(2),
      tokens: fc.integer({ min: 1, max: 100 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('end' as const),
      pick: fc.nat(),
      share: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('round' as const),
      replica: fc.nat(2),
      outcome: fc.constantFrom('ok' as const, 'ok' as const, 'fail' as const, 'lost' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('step' as const),
      ms: fc.constantFrom(0, 50, 300, 1_000, 2_500, 20_000),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), replica: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revoke' as const), replica: fc.nat(2) }) },
);

describe('rate leases: any interleaving, three replicas', () => {
  it('never admits more than rpm requests or tpm tokens in any 60 s window', () => {
    let leasedTakes = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 100, maxLength: 300 }), (ops) => {
        let now = 1_000_000;
        let seq = 0;
        const db = modelDb();
        const newBook = () =>
          createRateBook({ horizonMs: HORIZON, tauMs: 2_000, minRequests: 4, newId: () => `lease${seq++}` });
        const books: RateBook[] = [newBook(), newBook(), newBook()];
        // Every admitted request: when, and the tokens it counts (estimate, then real).
        const admitted: Array<{
          id: string;
          at: number;
          tokens: number;
          replica: number;
          leased: boolean;
          open: boolean;
        }> = [];
        const check = () => {
          const inWindow = admitted.filter((a) => a.at > now - 60_000);
          expect(inWindow.length).toBeLessThanOrEqual(RPM);
          expect(inWindow.reduce((s, a) => s + a.tokens, 0)).toBeLessThanOrEqual(TPM);
        };
        for (const o of ops) {
          if (o.kind === 'take') {
            const id = `r${seq++}`;
            const book = books[o.replica] as RateBook;
            const leased = book.take(PLAN, id, o.tokens, now);
            if (leased) leasedTakes++;
            if (leased || db.acquire(id, o.tokens, now))
              admitted.push({ id, at: now, tokens: o.tokens, replica: o.replica, leased, open: true });
          } else if (o.kind === 'end') {
            const open = admitted.filter((a) => a.open);
            const a = open[o.pick % Math.max(1, open.length)];
            if (!a) continue;
            a.open = false;
            // Real use at most the admitted estimate (its input estimate plus the output bound).
            a.tokens = Math.floor(a.tokens * o.share);
            if (!(a.leased && (books[a.replica] as RateBook).end(a.id, a.tokens))) db.release(a.id, a.tokens);
          } else if (o.kind === 'round') {
            const book = books[o.replica] as RateBook;
            const plan = book.planRound(now);
            if (o.outcome === 'fail') book.roundFailed(plan);
            else {
              const result = db.round(plan);
              if (o.outcome === 'ok') book.applyRound(plan, result);
              else book.roundFailed(plan);
            }
          } else if (o.kind === 'step') now += o.ms;
          else if (o.kind === 'revoke') (books[o.replica] as RateBook).revoke(() => true, now);
          else {
            // A crashed replica's leases stay counted until they age out; it comes back empty.
            books[o.replica] = newBook();
            for (const a of admitted) if (a.replica === o.replica) a.open = false;
          }
          check();
        }
      }),
      { numRuns: 200 },
    );
    // The interleavings do serve requests from leases, not only one by one.
    expect(leasedTakes).toBeGreaterThan(0);
  });
});

describe('rate leases: a disable or a close', () => {
  for (const when of ['disabled', 'closing'] as const) {
    it(`trims a lease stopped early (${when}) to the requests it served, in the rows it granted`, () => {
      let now = 1_000_000;
      let seq = 0;
      const db = modelDb();
      const book = createRateBook({
        horizonMs: HORIZON,
        tauMs: 2_000,
        minRequests: 4,
        newId: () => `lease${seq++}`,
      });
      let admitted = 0;
      const take = () => {
        const id = `r${seq++}`;
        if (book.take(PLAN, id, 10, now) || db.acquire(id, 10, now)) admitted++;
      };
      for (let i = 0; i < 8; i++) take();
      const grant = book.planRound(now);
      expect(grant.grants).toHaveLength(1);
      book.applyRound(grant, db.round(grant));
      const leased = book.stats().requests;
      expect(leased).toBeGreaterThan(2);
      now += 100;
      take();
      take();
      expect(db.counted(now).n).toBe(admitted - 2 + leased);
      // Before the lease's stamp: only the disable (or the close) stops it.
      now += 100;
      book.revoke((key) => when === 'closing' || key === 'k', now);
      take();
      const trim = book.planRound(now);
      expect(trim.trims).toHaveLength(1);
      book.applyRound(trim, db.round(trim));
      expect(db.counted(now).n).toBe(admitted);
      // Nothing left to trim: the database holds what was served.
      expect(book.planRound(now).trims).toHaveLength(0);
    });
  }
});
