import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../clock.js';
import type { Logger } from '../../../log.js';
import type { SlotEnd, SlotRequest } from '../../types.js';
import { oneStatement, type Pool } from '../pool.js';
import {
  createRateBook,
  type RateBookOptions,
  type RateRoundPlan,
  type RateRoundResult,
  ratePlanOf,
} from './rate-book.js';

/**
 * Drives one replica's rate book (rate-book.ts) against the database: requests of a busy plan
 * take their rpm and tpm slot from a lease without a round trip, and rounds (one statement,
 * tollgate_rate_round, migration 18) grant new leases and trim used ones: after a request found
 * no lease (at most every `minGapMs`), and every `tickMs`.
 */
export interface RateLeaseOptions extends Partial<RateBookOptions> {
  tickMs?: number;
  minGapMs?: number;
}

export async function runRateRound(pool: Pool, plan: RateRoundPlan): Promise<RateRoundResult> {
  const trims = plan.trims.map((t) => ({ ...t }));
  const grants = plan.grants.map((g) => ({
    id: g.id,
    stamp: g.stamp,
    subjects: g.plan.subjects,
    rpm: g.plan.rpm,
    tpm: g.plan.tpm,
    wantRequests: g.wantRequests,
    minRequests: g.minRequests,
    wantTokens: g.wantTokens,
    minTokens: g.minTokens,
  }));
  const rows = await oneStatement(pool, async (c) => {
    const r = await c.query<{ o_id: string; o_requests: number | null; o_tokens: number | null }>({
      name: 'tollgate_rate_round',
      text: 'SELECT * FROM tollgate_rate_round($1::jsonb, $2::jsonb, $3)',
      values: [JSON.stringify(trims), JSON.stringify(grants), plan.now],
    });
    return r.rows;
  });
  const out: RateRoundResult = new Map();
  for (const row of rows) out.set(row.o_id, { requests: row.o_requests ?? 0, tokens: row.o_tokens ?? 0 });
  return out;
}

export function createRateLeaseManager(deps: {
  pool: Pool;
  clock: Clock;
  log: Logger;
  options?: RateLeaseOptions;
}) {
  const { pool, clock, log } = deps;
  const o = deps.options ?? {};
  const book = createRateBook({
    horizonMs: o.horizonMs ?? 2_000,
    tauMs: o.tauMs ?? 2_000,
    minRequests: o.minRequests ?? 4,
    newId: o.newId ?? (() => `rlease:${randomUUID()}`),
  });
  const tickMs = o.tickMs ?? 250;
  const minGapMs = o.minGapMs ?? 100;
  let running: Promise<void> | null = null;
  let lastRound = Number.NEGATIVE_INFINITY;
  let soon: NodeJS.Timeout | null = null;
  let stopped = false;
  // The keys disabled on any replica: not leased (the gateway refuses them before this anyway).
  let blocked: (key: string) => boolean = () => false;

  const round = (): Promise<void> => {
    running ??= (async () => {
      lastRound = clock();
      const plan = book.planRound(lastRound);
      if (plan.trims.length + plan.grants.length === 0) return;
      try {
        book.applyRound(plan, await runRateRound(pool, plan));
      } catch (err) {
        book.roundFailed(plan);
        log.warn({ err }, 'a rate lease round failed; requests take their slots one by one meanwhile');
      }
    })().finally(() => {
      running = null;
    });
    return running;
  };

  const roundSoon = () => {
    if (soon || stopped) return;
    soon = setTimeout(
      () => {
        soon = null;
        void (running ?? Promise.resolve()).then(round);
      },
      Math.max(0, lastRound + minGapMs - clock()),
    );
    soon.unref();
  };

  const ticker = setInterval(() => void (running ?? round()), tickMs);
  ticker.unref();

  return {
    /** Takes the request's slot from a lease; false: take it in the database. */
    take(r: SlotRequest): boolean {
      if (stopped || blocked(r.key)) return false;
      const plan = ratePlanOf(r);
      if (!plan) return false;
      // The lease's end is checked against this replica's clock now, whatever the caller says.
      if (book.take(plan, r.id, r.tokens ?? 0, clock())) return true;
      roundSoon();
      return false;
    },
    /** Ends a slot taken from a lease; false: it was taken in the database. */
    end(id: string, end?: SlotEnd): boolean {
      return book.end(id, end?.tokens);
    },
    /** `revoked` names every key disabled now: their leases stop serving and are trimmed. */
    revoke(revoked: (key: string) => boolean): void {
      blocked = revoked;
      book.revoke(revoked, clock());
      roundSoon();
    },
    stats: () => book.stats(),
    /** Stops leasing; a last round trims what it can (the rest ages out of the minute). */
    async close(): Promise<void> {
      stopped = true;
      clearInterval(ticker);
      if (soon) clearTimeout(soon);
      book.revoke(() => true, clock());
      await running;
      await round();
    },
  };
}

export type RateLeaseManager = ReturnType<typeof createRateLeaseManager>;
