import { GatewayError } from '../errors.js';

export type StoreBackend = 'SQLite' | 'PostgreSQL';

const WHAT_FAILED: Record<StoreBackend, string> = {
  SQLite: 'cannot be read or written',
  PostgreSQL: 'cannot be reached',
};

/**
 * The one error a store failure becomes: 503 `store_unavailable`, so callers fail closed (no
 * request is forwarded unmetered) and never show the database's own words; those stay in `cause`
 * for the log and /healthz. `message` lets a caller say what it means for the user (which key
 * was refused, that a key was not changed).
 */
export function storeUnavailable(cause: unknown, message: string): GatewayError {
  return new GatewayError('store_unavailable', message, { cause });
}

export function isStoreUnavailable(err: unknown): err is GatewayError {
  return err instanceof GatewayError && err.code === 'store_unavailable';
}

/**
 * The same failure told in the caller's words (which key was refused, what did not change); the
 * database's error stays the cause.
 */
export function restateStoreFailure(err: unknown, message: string): GatewayError {
  return storeUnavailable(isStoreUnavailable(err) && err.cause !== undefined ? err.cause : err, message);
}

/** A failure of the store itself, with the backend's default message; a GatewayError passes as it is. */
export function storeFailure(err: unknown, backend: StoreBackend): GatewayError {
  if (err instanceof GatewayError) return err;
  return storeUnavailable(
    err,
    `the usage store (${backend}) ${WHAT_FAILED[backend]}, so the request was refused; try again shortly.`,
  );
}

/**
 * The store's boundary: every call of `store` that fails rejects with `store_unavailable`, on
 * both backends alike. Two things pass unchanged: `close` (shutdown reports the database's own
 * error), and a RangeError, which is the store refusing an impossible amount (money-guard.ts),
 * a bug of the caller rather than a store that is away.
 */
export function guardStoreCalls<S extends object>(store: S, backend: StoreBackend): S {
  const rethrow = (err: unknown): never => {
    throw err instanceof RangeError ? err : storeFailure(err, backend);
  };
  const guarded: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== 'function' || name === 'close') {
      guarded[name] = value;
      continue;
    }
    guarded[name] = (...args: unknown[]) => {
      let out: unknown;
      try {
        out = value.apply(store, args);
      } catch (err) {
        return rethrow(err);
      }
      return out instanceof Promise ? out.catch(rethrow) : out;
    };
  }
  return guarded as S;
}
