import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { DisableRecord, DisableStore } from '../store/types.js';

/**
 * The kill switch's in-memory view of the store's disables, so the hot path never waits on
 * the store. Refreshed on every local change, on the store's change notifications (other
 * replicas) and by a periodic re-read as the safety net after a lost notification.
 */
export interface DisableView {
  get(key: string): DisableRecord | undefined;
  all(): Map<string, DisableRecord>;
  /** Re-reads the store now. */
  refresh(): Promise<void>;
  stop(): void;
}

export async function createDisableView(deps: {
  store: Pick<DisableStore, 'listDisabled' | 'onDisabledChange'>;
  log: Logger;
  refreshMs?: number;
  clock?: Clock;
}): Promise<DisableView> {
  let current = await deps.store.listDisabled();
  let refreshing: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const refresh = (): Promise<void> => {
    if (refreshing) {
      // The read in flight may have been sent before the change the caller wants to see (the
      // kill switch refreshes after its write): one more read after it, shared by every caller
      // that asks meanwhile.
      next ??= refreshing.then(() => {
        next = null;
        return refresh();
      });
      return next;
    }
    refreshing = deps.store
      .listDisabled()
      .then((m) => {
        current = m;
      })
      .catch((err: unknown) =>
        deps.log.warn({ err }, 'could not re-read disabled keys; keeping the last view'),
      )
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  };
  const unsubscribe = deps.store.onDisabledChange(() => void refresh());
  const timer = setInterval(() => void refresh(), deps.refreshMs ?? 500);
  timer.unref();
  return {
    get: (key) => current.get(key),
    all: () => current,
    refresh,
    stop() {
      clearInterval(timer);
      unsubscribe();
    },
  };
}
