import type { SlotRequest, SlotResult } from './types.js';

const WINDOW_MS = 60_000;

interface KeyState {
  /** Arrival instants of the requests counted in the rolling minute, oldest first. */
  events: number[];
  /** In-flight request id → lease end. */
  inFlight: Map<string, number>;
}

export interface RateLimiter {
  acquireSlot(r: SlotRequest): SlotResult;
  releaseSlot(id: string, key: string): void;
}

/**
 * Rate limits for the embedded store. SQLite serves a single process, so the counters need not
 * be shared and live in memory: nothing on the hot path touches the disk for them, and a
 * restart forgetting the last minute is harmless.
 *
 * rpm is a rolling 60 s window: a request is counted while `now - ts < 60 s`. max_parallel
 * counts slots not yet released whose lease has not ended. A request is recorded only when it
 * passes both checks, so refused attempts do not push the window further out.
 */
export function createMemoryRateLimiter(): RateLimiter {
  const keys = new Map<string, KeyState>();

  const stateOf = (key: string): KeyState => {
    let s = keys.get(key);
    if (!s) {
      s = { events: [], inFlight: new Map() };
      keys.set(key, s);
    }
    return s;
  };

  const prune = (s: KeyState, now: number): void => {
    let drop = 0;
    while (drop < s.events.length && (s.events[drop] ?? 0) <= now - WINDOW_MS) drop++;
    if (drop > 0) s.events.splice(0, drop);
    for (const [id, leaseUntil] of s.inFlight) if (leaseUntil <= now) s.inFlight.delete(id);
  };

  return {
    acquireSlot(r) {
      const s = stateOf(r.key);
      prune(s, r.now);
      if (r.maxParallel !== undefined && s.inFlight.size >= r.maxParallel) {
        // When a slot frees is unknowable (it ends with someone else's response): ask for a retry soon.
        return { ok: false, limit: 'max_parallel', retryAfterSec: 1, remaining: 0 };
      }
      if (r.rpm !== undefined && s.events.length >= r.rpm) {
        const oldest = s.events[0] ?? r.now;
        const retryAfterSec = Math.max(1, Math.ceil((oldest + WINDOW_MS - r.now) / 1000));
        return { ok: false, limit: 'rpm', retryAfterSec, remaining: 0 };
      }
      // Only what is limited is tracked, so unlimited keys cost no memory; a reload that adds a
      // limit starts counting from then.
      if (r.rpm !== undefined) s.events.push(r.now);
      if (r.maxParallel !== undefined) s.inFlight.set(r.id, r.leaseUntil);
      if (s.events.length === 0 && s.inFlight.size === 0) keys.delete(r.key);
      return r.rpm === undefined ? { ok: true } : { ok: true, remaining: r.rpm - s.events.length };
    },
    releaseSlot(id, key) {
      const s = keys.get(key);
      if (!s) return;
      s.inFlight.delete(id);
      if (s.events.length === 0 && s.inFlight.size === 0) keys.delete(key);
    },
  };
}
