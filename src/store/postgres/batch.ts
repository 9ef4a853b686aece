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
export interface BatchOptions<I, O> {
  /** Runs several items in one transaction; resolves with one result per item, in order. */
  many: (items: I[]) => Promise<O[]>;
  /** Runs one item on its own (also the fallback after a failed batch). */
  one: (item: I) => Promise<O>;
  /** Items per batch at most. */
  maxBatch: number;
  /** Batches at the database at once (each on its own pooled connection). */
  maxInFlight: number;
}

interface Waiting<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

export function createBatcher<I, O>(o: BatchOptions<I, O>): (item: I) => Promise<O> {
  let queue: Waiting<I, O>[] = [];
  let inFlight = 0;

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
      await Promise.all(batch.map((w) => o.one(w.item).then(w.resolve, w.reject)));
      return;
    }
    batch.forEach((w, i) => {
      w.resolve(results[i] as O);
    });
  };

  const pump = () => {
    while (inFlight < o.maxInFlight && queue.length > 0) {
      const batch = queue.length <= o.maxBatch ? queue : queue.slice(0, o.maxBatch);
      queue = queue.length <= o.maxBatch ? [] : queue.slice(o.maxBatch);
      inFlight++;
      void runBatch(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      pump();
    });
}
