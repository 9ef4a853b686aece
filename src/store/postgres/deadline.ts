import { storeError } from './pool.js';

/**
 * Bounds one store call as the caller sees it. pg's own timeouts bound each step (connect,
 * query), but a call can take several (wait for a pooled client, connect, query), and with the
 * network silently dropping packets each step runs to its own limit: requests waited 10-11 s
 * for a 2 s statement timeout. This caps the whole call at the statement timeout; the steps
 * still running are cleaned up by pg's timeouts behind it.
 */
export function withDeadline<A extends unknown[], R>(
  ms: number,
  fn: (...args: A) => Promise<R>,
  /** A call that succeeded after its caller was answered store_unavailable (its statement committed late). */
  late?: (result: R, ...args: A) => void,
): (...args: A) => Promise<R> {
  return (...args) =>
    new Promise<R>((resolve, reject) => {
      let expired = false;
      const timer = setTimeout(() => {
        expired = true;
        reject(storeError(new Error(`PostgreSQL did not answer within ${ms} ms (the statement timeout)`)));
      }, ms);
      fn(...args).then(
        (v) => {
          clearTimeout(timer);
          if (expired) late?.(v, ...args);
          else resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
}
