import type { SlotRequest, SlotResult } from './types.js';

const WINDOW_MS = 60_000;

interface KeyState {
  /**
   * Arrival instants of the requests counted in the rolling minute, oldest first, from `head` on:
   * expired ones are skipped by moving `head` and the array is compacted now and then, so a key at
   * thousands of requests a minute costs O(1) per request (a `splice(0, n)` moved the whole
   * minute's array on every request).
   */
  events: number[];
  head: number;
  /** In-flight request id → lease end. */
  inFlight: Map<string, number>;
}

/** Counted requests of a key. */
const counted = (s: KeyState) => s.events.length - s.head;

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
      s = { events: [], head: 0, inFlight: new Map() };
      keys.set(key, s);
    }
    return s;
  };

  const prune = (s: KeyState, now: number): void => {
    while (s.head < s.events.length && (s.events[s.head] ?? 0) <= now - WINDOW_MS) s.head++;
    if (s.head === s.events.length) {
      s.events = [];
      s.head = 0;
    } else if (s.head >= 1024 && s.head * 2 >= s.events.length) {
      s.events = s.events.slice(s.head);
      s.head = 0;
    }
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
      if (r.rpm !== undefined && counted(s) >= r.rpm) {
        const oldest = s.events[s.head] ?? r.now;
        const retryAfterSec = Math.max(1, Math.ceil((oldest + WINDOW_MS - r.now) / 1000));
        return { ok: false, limit: 'rpm', retryAfterSec, remaining: 0 };
      }
      // Only what is limited is tracked, so unlimited keys cost no memory; a reload that adds a
      // limit starts counting from then.
      if (r.rpm !== undefined) s.events.push(r.now);
      if (r.maxParallel !== undefined) s.inFlight.set(r.id, r.leaseUntil);
      if (counted(s) === 0 && s.inFlight.size === 0) keys.delete(r.key);
      return r.rpm === undefined ? { ok: true } : { ok: true, remaining: r.rpm - counted(s) };
    },
    releaseSlot(id, key) {
      const s = keys.get(key);
      if (!s) return;
      s.inFlight.delete(id);
      if (counted(s) === 0 && s.inFlight.size === 0) keys.delete(key);
    },
  };
}
