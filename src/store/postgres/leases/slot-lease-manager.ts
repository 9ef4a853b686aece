import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../clock.js';
import type { Logger } from '../../../log.js';
import type { SlotRequest } from '../../types.js';
import { oneStatement, type Pool } from '../pool.js';
import {
  createSlotBook,
  type SlotBookOptions,
  type SlotPlan,
  type SlotRoundPlan,
  type SlotRoundResult,
  slotPlanOf,
} from './slot-book.js';

/**
 * Drives one replica's slot book (slot-book.ts) against the database: requests of a busy plan
 * with max_parallel take and free their slot locally, and rounds (one statement,
 * tollgate_slot_round, migration 23) grant, renew and trim the leased slots: soon after a take
 * or a miss (at most every `minGapMs`), and every `tickMs`.
 */
export interface SlotLeaseOptions extends Partial<SlotBookOptions> {
  tickMs?: number;
  minGapMs?: number;
}

export async function runSlotRound(pool: Pool, plan: SlotRoundPlan): Promise<SlotRoundResult> {
  const payload = plan.parts.map((p) => ({
    subjects: p.subjects,
    maxParallel: p.maxParallel,
    trims: p.trims,
    renews: p.renews,
    grant: p.grant,
  }));
  const rows = await oneStatement(pool, async (c) => {
    const r = await c.query<{ o_n: number; o_granted: number; o_room: number; o_gone: string[] | null }>({
      name: 'tollgate_slot_round',
      text: 'SELECT * FROM tollgate_slot_round($1::jsonb, $2)',
      values: [JSON.stringify(payload), plan.now],
    });
    return r.rows;
  });
  const out: SlotRoundResult = plan.parts.map(() => ({ granted: 0, room: 0, gone: [] }));
  for (const row of rows)
    out[row.o_n - 1] = { granted: row.o_granted, room: row.o_room, gone: row.o_gone ?? [] };
  return out;
}

export function createSlotLeaseManager(deps: {
  pool: Pool;
  clock: Clock;
  log: Logger;
  options?: SlotLeaseOptions;
}) {
  const { pool, clock, log } = deps;
  const o = deps.options ?? {};
  const expiryMs = o.expiryMs ?? 5_000;
  const book = createSlotBook({
    expiryMs,
    marginMs: o.marginMs ?? expiryMs / 4,
    tauMs: o.tauMs ?? 2_000,
    minRequests: o.minRequests ?? 4,
    idleMs: o.idleMs ?? 1_000,
    newId: o.newId ?? (() => `slease:${randomUUID()}`),
  });
  const tickMs = o.tickMs ?? 250;
  const minGapMs = o.minGapMs ?? 100;
  let running: Promise<void> | null = null;
  let lastRound = Number.NEGATIVE_INFINITY;
  let soon: NodeJS.Timeout | null = null;
  let stopped = false;
  let blocked: (key: string) => boolean = () => false;

  const round = (): Promise<void> => {
    running ??= (async () => {
      lastRound = clock();
      const plan = book.planRound(lastRound);
      if (plan.parts.length === 0) return;
      try {
        const result = await runSlotRound(pool, plan);
        book.applyRound(plan, result);
        if (result.some((r) => r.gone.length > 0))
          log.warn('leased max_parallel slots expired before their renewal (the database was slow or away)');
      } catch (err) {
        book.roundFailed(plan);
        log.warn({ err }, 'a slot lease round failed; requests take their slots one by one meanwhile');
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
    /** The request's slot plan (null: no max_parallel), for take and tookInDb. */
    planOf: (r: SlotRequest): SlotPlan | null => slotPlanOf(r),
    /** Takes the request's parallel slots from a lease; false: take them in the database. */
    take(plan: SlotPlan, r: SlotRequest): boolean {
      if (stopped || blocked(r.key)) return false;
      // Either way a round soon: a taken slot is stamped with the request's lease, a miss may grant.
      roundSoon();
      return book.take(plan, r.id, r.leaseUntil, clock());
    },
    /** Undoes a take (the request's rpm or tpm could not be served locally after all). */
    untake(id: string): void {
      book.untake(id);
    },
    tookInDb(plan: SlotPlan, r: SlotRequest): void {
      book.tookInDb(plan, r.id, r.leaseUntil);
    },
    /** Frees a leased slot; false: the request's slot is in the database. */
    end(id: string): boolean {
      const e = book.end(id);
      if (e.wantsRound) roundSoon();
      return e.leased;
    },
    /** `revoked` names every key disabled now: their slots go back at the next round. */
    revoke(revoked: (key: string) => boolean): void {
      blocked = revoked;
      book.revoke(revoked);
      roundSoon();
    },
    stats: () => book.stats(),
    /** Stops leasing; a last round gives back every slot (what it misses expires on its own). */
    async close(): Promise<void> {
      stopped = true;
      clearInterval(ticker);
      if (soon) clearTimeout(soon);
      book.stopAll();
      await running;
      await round();
    },
  };
}

export type SlotLeaseManager = ReturnType<typeof createSlotLeaseManager>;
