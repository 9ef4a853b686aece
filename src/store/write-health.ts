import type { Store } from './types.js';

export interface WriteFailure {
  /** The store's own words (SQLITE_FULL: database or disk is full). */
  error: string;
  /** Epoch ms of the first failure since the last write that worked. */
  since: number;
}

export interface WriteHealth {
  /** Set while the store's last write failed; cleared by the next one that works. */
  failure(): WriteFailure | undefined;
  /**
   * While a failure is set, tries one small write of its own (a claim, taken and released) on the
   * connection requests write with, to see if it still holds.
   */
  probe(): Promise<void>;
}

/**
 * What requests see of the store, for /healthz. A store can answer `SELECT 1` and still refuse
 * every write (a full disk: SQLITE_FULL on commit; a read-only file); then every request gets
 * 503 and health must say so too. The writes every request makes (reserve, settle, the parallel
 * slot) report here; while one failed, /healthz probes with a write of its own, so health turns
 * ok again as soon as space is back, with or without traffic.
 */
export function trackWriteHealth(store: Store, clock: () => number): { store: Store; health: WriteHealth } {
  let failure: WriteFailure | undefined;
  /** `clears`: whether the call's success, or this result of it, proves writes work again (it wrote to the store). */
  const watch =
    <A extends unknown[], R>(
      fn: (...args: A) => Promise<R>,
      clears: boolean | ((out: R) => boolean) = true,
    ) =>
    async (...args: A): Promise<R> => {
      try {
        const out = await fn(...args);
        if (typeof clears === 'function' ? clears(out) : clears) failure = undefined;
        return out;
      } catch (err) {
        const cause = (err as { cause?: unknown }).cause ?? err;
        const code = (cause as { code?: string }).code;
        const message = cause instanceof Error ? cause.message : String(cause);
        failure ??= {
          error: code && !message.includes(code) ? `${code}: ${message}` : message,
          since: clock(),
        };
        throw err;
      }
    };
  const claim = watch((id: string, at: number) => store.claimOnce('healthz-probe', id, at));
  // SQLite on a file writes requests' budgets in a worker with its own connection: the probe goes
  // there, so a broken worker is not hidden by a main connection that still works, and its wait
  // for a lock is the worker's, not the event loop's.
  const probeWrites = store.probeWrites
    ? watch((at: number) => store.probeWrites?.(at) ?? Promise.resolve())
    : null;
  return {
    store: {
      ...store,
      kind: store.kind,
      // A reservation served from a PostgreSQL budget lease is granted in memory: like a slot, its
      // success clears nothing. One that went to the store does (SQLite's always do).
      reserve: watch(
        (r) => store.reserve(r),
        (out) => !(out.ok && out.leased),
      ),
      settle: watch((u, p) => store.settle(u, p)),
      // A slot granted says nothing of the writes: SQLite grants it in memory (memory-rate.ts), and
      // a PostgreSQL replica from its rate lease. Its failure is one; its success clears nothing
      // (every request past it reserves or settles, and those do).
      acquireSlot: watch((r) => store.acquireSlot(r), false),
    },
    health: {
      failure: () => failure,
      async probe() {
        if (!failure) return;
        const at = clock();
        if (probeWrites) {
          await probeWrites(at).catch(() => {});
          return;
        }
        const id = `${process.pid}-${at}`;
        await claim(id, at).catch(() => {});
        if (!failure) await store.releaseClaim('healthz-probe', id).catch(() => {});
      },
    },
  };
}
