import type { Logger } from '../log.js';
import type { Store, UsageRecord } from '../store/types.js';

export interface UsageWriter {
  /**
   * Settles one request in the store (its usage record, spend and reservation). Retries a few
   * times in line; if the store still fails, keeps retrying in the background and logs each
   * failure as an error. Never throws: the caller goes on to answer the client either way.
   * Resolves true when the record is written.
   */
  write(record: UsageRecord, periods: string[]): Promise<boolean>;
  /** Records still waiting for the store (being written or retried). */
  pending(): number;
  /** Waits (up to `timeoutMs`) for writes still in progress or retrying. */
  flush(timeoutMs: number): Promise<void>;
}

export interface UsageWriterOptions {
  /** Pauses between in-line attempts. */
  retryDelaysMs?: number[];
  /** Pause between background attempts. */
  backgroundMs?: number;
  /** Background attempts before a record is given up (and logged whole so it can be replayed). */
  backgroundAttempts?: number;
  /**
   * How long `write` holds up the response for a store that neither succeeds nor fails (a hung
   * connection). After it the client is answered and the write goes on in the background.
   */
  maxWaitMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** No batching on a timer: each record is written before the response that it meters ends (SIGKILL-safe). */
export function createUsageWriter(
  deps: { store: Store; log: Logger },
  options: UsageWriterOptions = {},
): UsageWriter {
  const delays = options.retryDelaysMs ?? [25, 100, 400];
  const backgroundMs = options.backgroundMs ?? 5_000;
  const backgroundAttempts = options.backgroundAttempts ?? 120;
  const maxWaitMs = options.maxWaitMs ?? 10_000;
  const queued = new Set<Promise<unknown>>();
  const track = <T>(job: Promise<T>): Promise<T> => {
    queued.add(job);
    void job.finally(() => queued.delete(job));
    return job;
  };

  const attempt = async (record: UsageRecord, periods: string[], n: number): Promise<boolean> => {
    try {
      await deps.store.settle(record, periods);
      return true;
    } catch (err) {
      deps.log.error(
        { err, requestId: record.requestId, key: record.key, attempt: n + 1 },
        'could not write a usage record to the store; retrying',
      );
      return false;
    }
  };

  const retryInBackground = (record: UsageRecord, periods: string[]) => {
    const job = (async () => {
      for (let i = 0; i < backgroundAttempts; i++) {
        await sleep(backgroundMs);
        if (await attempt(record, periods, delays.length + 1 + i)) return;
      }
      // Logged whole (it holds no key or prompt) so an operator can replay it.
      deps.log.fatal(
        { record, periods },
        'gave up writing a usage record; its spend is missing from the store',
      );
    })();
    void track(job);
  };

  return {
    write(record, periods) {
      const job = track(
        (async () => {
          for (let i = 0; ; i++) {
            if (await attempt(record, periods, i)) return true;
            const delay = delays[i];
            if (delay === undefined) break;
            await sleep(delay);
          }
          retryInBackground(record, periods);
          return false;
        })(),
      );
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          deps.log.error(
            { requestId: record.requestId, key: record.key, waitedMs: maxWaitMs },
            'the store has not settled a request yet; answering the client and still waiting for it',
          );
          resolve(false);
        }, maxWaitMs);
      });
      return Promise.race([job, late]).finally(() => clearTimeout(timer));
    },
    pending: () => queued.size,
    async flush(timeoutMs) {
      if (queued.size === 0) return;
      await Promise.race([Promise.allSettled([...queued]), sleep(timeoutMs)]);
    },
  };
}
