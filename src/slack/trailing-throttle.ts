import type { Clock } from '../clock.js';

export interface TrailingThrottle<T> {
  /** Runs now if `id` was not run in the last `everyMs`; otherwise remembers it for the sweep. */
  touch(id: string, payload: T): void;
  stop(): void;
}

/**
 * At most one run per id every `everyMs` (by the injected clock), without dropping the last touch
 * of a burst: a touch inside the window is kept and run by a sweep every `sweepMs` once the window
 * has passed. The spike rule uses it so that a key is measured again within about
 * everyMs + sweepMs of its latest settle, however slowly its requests then arrive, while the store
 * is still read at most once per key and window. The sweep timer only runs while touches wait.
 */
export function createTrailingThrottle<T>(o: {
  everyMs: number;
  sweepMs: number;
  clock: Clock;
  run(id: string, payload: T, now: number): void;
}): TrailingThrottle<T> {
  const last = new Map<string, number>();
  const waiting = new Map<string, T>();
  let timer: NodeJS.Timeout | null = null;

  function fire(id: string, payload: T, now: number): void {
    last.set(id, now);
    waiting.delete(id);
    o.run(id, payload, now);
  }

  function sweep(): void {
    const now = o.clock();
    for (const [id, payload] of waiting) {
      if (now - (last.get(id) ?? Number.NEGATIVE_INFINITY) >= o.everyMs) fire(id, payload, now);
    }
    if (waiting.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  return {
    touch(id, payload) {
      const now = o.clock();
      const previous = last.get(id);
      if (previous === undefined || now - previous >= o.everyMs) return fire(id, payload, now);
      waiting.set(id, payload);
      if (!timer && o.sweepMs > 0) {
        timer = setInterval(sweep, o.sweepMs);
        timer.unref();
      }
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
      waiting.clear();
    },
  };
}
