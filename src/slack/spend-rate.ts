const HOUR_MS = 3_600_000;
const BUCKET_MS = 60_000;
const BUCKETS = HOUR_MS / BUCKET_MS;

/**
 * This replica's spend per key over the last hour, in one-minute buckets, kept in memory and
 * updated on every charged settle: O(1) per settle, no store call. It only decides when the spike
 * rule is worth reading from the store (every replica's records) right away, instead of waiting
 * for the periodic check; the store's reading decides.
 */
export interface SpendRate {
  add(key: string, usd: number, now: number): void;
  /** This replica's spend of `key` in the hour up to `now` (to the minute). */
  lastHourUsd(key: string, now: number): number;
  /** Forgets keys no longer configured. */
  retain(keys: ReadonlySet<string>): void;
}

interface Ring {
  /** Minute number (`floor(ts / 1 min)`) each bucket holds; a stale one counts as empty. */
  minutes: Float64Array;
  usd: Float64Array;
}

export function createSpendRate(): SpendRate {
  const rings = new Map<string, Ring>();
  return {
    add(key, usd, now) {
      if (!(usd > 0) || !Number.isFinite(usd)) return;
      let ring = rings.get(key);
      if (!ring) {
        ring = { minutes: new Float64Array(BUCKETS).fill(-1), usd: new Float64Array(BUCKETS) };
        rings.set(key, ring);
      }
      const minute = Math.floor(now / BUCKET_MS);
      const i = minute % BUCKETS;
      if (ring.minutes[i] !== minute) {
        ring.minutes[i] = minute;
        ring.usd[i] = 0;
      }
      ring.usd[i] = (ring.usd[i] as number) + usd;
    },
    lastHourUsd(key, now) {
      const ring = rings.get(key);
      if (!ring) return 0;
      const minute = Math.floor(now / BUCKET_MS);
      let total = 0;
      for (let i = 0; i < BUCKETS; i++) {
        const m = ring.minutes[i] as number;
        if (m > minute - BUCKETS && m <= minute) total += ring.usd[i] as number;
      }
      return total;
    },
    retain(keys) {
      for (const key of rings.keys()) if (!keys.has(key)) rings.delete(key);
    },
  };
}
