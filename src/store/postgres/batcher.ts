export interface BatcherOptions<I, O> {
  /** Runs several inputs in one statement; resolves with one output per input, in their order. */
  many(items: I[]): Promise<O[]>;
  /** Runs one input alone: a batch of one, and each input of a batch that failed. */
  one(item: I): Promise<O>;
  /** Inputs per statement at most. */
  maxBatch: number;
  /** Statements of this kind on the wire at once; inputs arriving meanwhile wait for the next. */
  maxInFlight: number;
  /** The order inputs run in within a batch (locks are then taken in that order). */
  order?: (a: I, b: I) => number;
}

export interface Batcher<I, O> {
  run(item: I): Promise<O>;
}

interface Waiting<I, O> {
  item: I;
  resolve(o: O): void;
  reject(err: unknown): void;
}

/**
 * Collects the calls made during one turn of the event loop, and those made while the previous
 * statements are still on the wire, into one statement: on PostgreSQL a round trip and a commit
 * (its WAL flush) per batch instead of per request. Each caller is answered only when the
 * statement holding its input has committed, so a reservation is still durable before its
 * request is forwarded and a usage record before its response ends.
 *
 * If a batch fails, each of its inputs runs again alone (nothing of the batch was kept: one
 * statement is one transaction), so that an error reaches only the caller it belongs to.
 */
export function createBatcher<I, O>(o: BatcherOptions<I, O>): Batcher<I, O> {
  let queue: Array<Waiting<I, O>> = [];
  let inFlight = 0;
  let scheduled = false;

  const settleEach = (batch: Array<Waiting<I, O>>) =>
    batch.map((w) =>
      o.one(w.item).then(
        (out) => w.resolve(out),
        (err: unknown) => w.reject(err),
      ),
    );

  const execute = async (batch: Array<Waiting<I, O>>): Promise<void> => {
    if (batch.length === 1) {
      await Promise.all(settleEach(batch));
      return;
    }
    let outs: O[];
    try {
      outs = await o.many(batch.map((w) => w.item));
    } catch {
      await Promise.all(settleEach(batch));
      return;
    }
    batch.forEach((w, i) => {
      w.resolve(outs[i] as O);
    });
  };

  const dispatch = () => {
    scheduled = false;
    while (queue.length > 0 && inFlight < o.maxInFlight) {
      let batch: Array<Waiting<I, O>>;
      if (queue.length <= o.maxBatch) {
        batch = queue;
        queue = [];
      } else batch = queue.splice(0, o.maxBatch);
      if (o.order) {
        const order = o.order;
        batch.sort((a, b) => order(a.item, b.item));
      }
      inFlight++;
      void execute(batch).finally(() => {
        inFlight--;
        schedule();
      });
    }
  };

  const schedule = () => {
    if (scheduled || queue.length === 0 || inFlight >= o.maxInFlight) return;
    scheduled = true;
    // After this turn's I/O callbacks: every call the turn makes joins the batch.
    setImmediate(dispatch);
  };

  return {
    run(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedule();
      });
    },
  };
}
