/**
 * Group commit for the calls every request makes (reserve, settle). One key's calls serialize
 * on its spend rows, each holding them through its own commit; sent one by one, a key could
 * never do more than one commit latency of work at a time. Calls made while `maxInFlight`
 * batches are already at the database wait and go together as the next batch: one transaction,
 * one commit. No timer: a call with nothing in flight goes at once, so an idle gateway adds no
 * latency, and a batch is never held back waiting for company.
 *
 * A batch that fails as a whole (one bad item, a deadlock retried out, a lost connection) is
 * run again item by item with `one`, so one failing item never fails the others.
 */
import { performance } from 'node:perf_hooks';
import { storeError } from './pool.js';

export interface BatchOptions<I, O> {
  /** Runs several items in one transaction; resolves with one result per item, in order. */
  many: (items: I[]) => Promise<O[]>;
  /** Runs one item on its own (also the fallback after a failed batch). */
  one: (item: I) => Promise<O>;
  /** Items per batch at most. */
  maxBatch: number;
  /** Batches at the database at once (each on its own pooled connection). */
  maxInFlight: number;
  /**
   * Fewer batches at once while the database answers: up to `steady` in flight, and up to
   * `maxInFlight` only once the oldest batch in flight has been out `afterMs` (a stalled
   * connection, a batch retried item by item) so that one slow batch never holds back every
   * later call until its deadline. Without it, `maxInFlight` batches go whenever calls wait.
   */
  stalled?: { steady: number; afterMs: number };
  /**
   * An item still queued this long after it was called is not sent: its caller has given up
   * (withDeadline answered it store_unavailable), and a reserve or a slot taken for a request
   * already refused would only hold budget or max_parallel until its lease ran out. Never set
   * for settles: a late usage record is still the record.
   */
  staleAfterMs?: number;
}

interface Waiting<I, O> {
  item: I;
  /** performance.now() when it was called. */
  at: number;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

export function createBatcher<I, O>(o: BatchOptions<I, O>): (item: I) => Promise<O> {
  let queue: Waiting<I, O>[] = [];
  let inFlight = 0;
  /** performance.now() when each batch in flight was sent, oldest first. */
  const sentAt: number[] = [];
  let recheck: NodeJS.Timeout | null = null;

  const runBatch = async (batch: Waiting<I, O>[]) => {
    if (batch.length === 1) {
      const w = batch[0] as Waiting<I, O>;
      await o.one(w.item).then(w.resolve, w.reject);
      return;
    }
    let results: O[];
    try {
      results = await o.many(batch.map((w) => w.item));
    } catch {
      const late = isStale();
      await Promise.all(
        batch.map((w) => (late(w) ? rejectStale(w) : o.one(w.item).then(w.resolve, w.reject))),
      );
      return;
    }
    batch.forEach((w, i) => {
      w.resolve(results[i] as O);
    });
  };

  const isStale = () => {
    const cutoff =
      o.staleAfterMs === undefined ? Number.NEGATIVE_INFINITY : performance.now() - o.staleAfterMs;
    return (w: Waiting<I, O>) => w.at <= cutoff;
  };
  const rejectStale = (w: Waiting<I, O>) =>
    w.reject(storeError(new Error('the call waited past its deadline and was not sent')));
  const dropStale = () => {
    if (o.staleAfterMs === undefined || queue.length === 0) return;
    const stale = isStale();
    if (!stale(queue[0] as Waiting<I, O>)) return;
    for (const w of queue) if (stale(w)) rejectStale(w);
    queue = queue.filter((w) => !stale(w));
  };

  /** How many batches may be in flight now; arms a recheck for when the oldest one stalls. */
  const allowed = (): number => {
    const st = o.stalled;
    if (!st || inFlight < st.steady) return st ? Math.min(st.steady, o.maxInFlight) : o.maxInFlight;
    const waited = performance.now() - (sentAt[0] as number);
    if (waited >= st.afterMs) return o.maxInFlight;
    if (!recheck && queue.length > 0) {
      recheck = setTimeout(() => {
        recheck = null;
        pump();
      }, st.afterMs - waited);
      recheck.unref();
    }
    return st.steady;
  };

  const pump = () => {
    dropStale();
    while (queue.length > 0 && inFlight < allowed()) {
      const batch = queue.length <= o.maxBatch ? queue : queue.slice(0, o.maxBatch);
      queue = queue.length <= o.maxBatch ? [] : queue.slice(o.maxBatch);
      inFlight++;
      const at = performance.now();
      sentAt.push(at);
      void runBatch(batch).finally(() => {
        inFlight--;
        sentAt.splice(sentAt.indexOf(at), 1);
        pump();
      });
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, at: performance.now(), resolve, reject });
      pump();
    });
}
