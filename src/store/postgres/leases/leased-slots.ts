import type { SlotEnd, SlotRequest, SlotResult } from '../../types.js';
import type { Pool } from '../pool.js';
import { releaseSlot } from '../rate-limits.js';
import { ratePlanOf } from './rate-book.js';
import type { RateLeaseManager } from './rate-lease-manager.js';
import type { SlotLeaseManager } from './slot-lease-manager.js';

const OK: SlotResult = { ok: true };

/**
 * A request's slot through the leases, all or nothing as in the database: its max_parallel slot
 * from a slot lease (slot-book.ts) and its rpm and tpm from a rate lease (rate-book.ts) when both
 * are held; otherwise every limit of the request in one database call, as without leases.
 */
export function leasedSlotCalls(deps: {
  pool: Pool;
  acquireInDb: (r: SlotRequest) => Promise<SlotResult>;
  rateLeases: RateLeaseManager | null;
  slotLeases: SlotLeaseManager | null;
}) {
  const { pool, acquireInDb, rateLeases, slotLeases } = deps;
  return {
    acquire(r: SlotRequest): Promise<SlotResult> {
      const plan = slotLeases?.planOf(r);
      if (!slotLeases || !plan) return rateLeases?.take(r) ? Promise.resolve(OK) : acquireInDb(r);
      if (slotLeases.take(plan, r)) {
        if (!ratePlanOf(r) || rateLeases?.take(r)) return Promise.resolve(OK);
        slotLeases.untake(r.id);
      }
      return acquireInDb(r).then((res) => {
        if (res.ok) slotLeases.tookInDb(plan, r);
        return res;
      });
    },
    release(id: string, key: string, end?: SlotEnd): Promise<void> {
      // A leased slot is freed here; its rpm and tpm (if any) came from a rate lease too.
      if (slotLeases?.end(id)) {
        rateLeases?.end(id, end);
        return Promise.resolve();
      }
      return rateLeases?.end(id, end) ? Promise.resolve() : releaseSlot(pool, id, key, end);
    },
  };
}
