import { describe, expect, it } from 'vitest';
import { storeFailure } from '../../../src/store/store-unavailable.js';
import type { ReserveRequest, ReserveResult, Store, UsageRecord } from '../../../src/store/types.js';
import { trackWriteHealth } from '../../../src/store/write-health.js';

const DAY = 'd:2026-11-26';

/**
 * A PostgreSQL store that refuses writes (a read-only failover) while this replica still holds a
 * budget lease: its reserves are served from the lease in memory, its settles fail. Only the
 * calls the test makes are there.
 */
function refusingWrites() {
  let next: ReserveResult = { ok: true, leased: true };
  const readOnly = Object.assign(new Error('cannot execute INSERT in a read-only transaction'), {
    code: '25006',
  });
  const store = {
    kind: 'postgres',
    reserve: async () => next,
    settle: async () => {
      throw storeFailure(readOnly, 'PostgreSQL');
    },
  } as unknown as Store;
  return { store, answer: (r: ReserveResult) => (next = r) };
}

const reservation = (id: string): ReserveRequest => ({
  id,
  key: 'cursor-dev',
  amountUsd: 0.01,
  windows: [{ period: DAY, limitUsd: 10 }],
  periods: [DAY],
  leaseUntil: Date.UTC(2026, 10, 26, 13),
});

describe('write health', () => {
  it('keeps reporting a failed write while reserves served from a budget lease succeed; one that went to the store clears it', async () => {
    const { store, answer } = refusingWrites();
    let now = Date.UTC(2026, 10, 26, 12);
    const { store: tracked, health } = trackWriteHealth(store, () => now);
    await expect(tracked.settle({ requestId: 'a' } as UsageRecord, [DAY])).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    const since = health.failure()?.since;
    expect(since).toBe(now);
    expect(health.failure()?.error).toBe('25006: cannot execute INSERT in a read-only transaction');

    now += 60_000;
    expect(await tracked.reserve(reservation('b'))).toEqual({ ok: true, leased: true });
    expect(health.failure()?.since).toBe(since);
    // The next settle fails again: the failure still dates from the first one.
    await expect(tracked.settle({ requestId: 'b' } as UsageRecord, [DAY])).rejects.toThrow();
    expect(health.failure()?.since).toBe(since);

    // A reservation the database wrote (or refused in its transaction) proves writes work again.
    answer({ ok: true });
    expect(await tracked.reserve(reservation('c'))).toEqual({ ok: true });
    expect(health.failure()).toBeUndefined();
  });

  it('sets the failure when a reserve fails', async () => {
    const failing = {
      kind: 'postgres',
      reserve: async () => {
        throw storeFailure(new Error('connection terminated'), 'PostgreSQL');
      },
    } as unknown as Store;
    const now = Date.UTC(2026, 10, 26, 12);
    const { store: tracked, health } = trackWriteHealth(failing, () => now);
    await expect(tracked.reserve(reservation('a'))).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(health.failure()).toEqual({ error: 'connection terminated', since: now });
  });
});
