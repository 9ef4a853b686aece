import { createInFlight } from '../in-flight.js';
import type { Logger } from '../log.js';
import type { BudgetStore, PeriodSpend, UsageRecord } from '../store/types.js';

export interface WriteResult {
  /** The record is in the store (false: it waits in the backlog, or the store is still busy). */
  written: boolean;
  /** The key's spend after the record, when the store returned it with the write (see BudgetStore.settle). */
  spend?: Record<string, PeriodSpend>;
}

export interface UsageWriter {
  /**
   * Settles one request in the store (its usage record, spend and reservation). Retries a few
   * times in line; if the store still fails, keeps the record in a backlog retried in the
   * background and logs each failure as an error. Never throws: the caller goes on to answer the
   * client either way.
   */
  write(record: UsageRecord, periods: string[]): Promise<WriteResult>;
  /** Records still waiting for the store (being written, or in the backlog). */
  pending(): number;
  /**
   * Waits (up to `timeoutMs`) for writes in progress, and retries the backlog now rather than at
   * its next tick: a store that came back is used at once.
   */
  flush(timeoutMs: number): Promise<void>;
  /**
   * Stops retrying (the store is about to close) and logs every record still in the backlog
   * whole, as fatal, so an operator can replay it: nothing is dropped silently.
   */
  close(): void;
}

export interface UsageWriterOptions {
  /** Pauses between in-line attempts. */
  retryDelaysMs?: number[];
  /** Pause between background passes over the backlog. */
  backgroundMs?: number;
  /**
   * Records the backlog holds at most. A store that fails (a full disk, a database down) keeps its
   * records here, retried until it takes them, however long that is; past this many, the oldest is
   * logged whole as fatal (to be replayed) so memory stays bounded.
   */
  maxBacklog?: number;
  /**
   * How long `write` holds up the response for a store that neither succeeds nor fails (a hung
   * connection). After it the client is answered and the write goes on in the background.
   */
  maxWaitMs?: number;
}

interface Backlogged {
  record: UsageRecord;
  periods: string[];
  attempts: number;
}

const NOT_WRITTEN: WriteResult = { written: false };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** No batching on a timer: each record is written before the response that it meters ends (SIGKILL-safe). */
export function createUsageWriter(
  deps: { store: Pick<BudgetStore, 'settle'>; log: Logger },
  options: UsageWriterOptions = {},
): UsageWriter {
  const delays = options.retryDelaysMs ?? [25, 100, 400];
  const backgroundMs = options.backgroundMs ?? 5_000;
  const maxBacklog = options.maxBacklog ?? 100_000;
  const maxWaitMs = options.maxWaitMs ?? 10_000;
  // Not a Set: one entry per request on a structure that lives for good (in-flight.ts says why).
  const inLine = createInFlight<Promise<unknown>>();
  const backlog = new Map<string, Backlogged>();
  let timer: NodeJS.Timeout | null = null;
  let pass: Promise<void> | null = null;
  let closed = false;

  const attempt = (record: UsageRecord, periods: string[], n: number, quiet = false) =>
    settleOnce(deps, record, periods, n, quiet);

  const giveUp = (item: Backlogged, why: string) => {
    // Logged whole (it holds no key or prompt) so an operator can replay it.
    deps.log.fatal(
      { record: item.record, periods: item.periods },
      `${why}; its spend is missing from the store`,
    );
  };

  /**
   * One pass over the backlog, oldest first; a record that fails stays for the next pass, however
   * many there are: its reservation is held in the store until this settle lands, and the record
   * carries the real usage, which nothing else knows. One log line per pass, not one per record.
   */
  const retryBacklog = (): Promise<void> => {
    pass ??= (async () => {
      let failed = 0;
      for (const [id, item] of backlog) {
        if (closed) return;
        item.attempts++;
        if ((await attempt(item.record, item.periods, delays.length + item.attempts, true)).written)
          backlog.delete(id);
        else failed++;
      }
      if (failed > 0)
        deps.log.error(
          { waiting: backlog.size, failed },
          'the store still refuses usage records; they stay in memory and are retried until it takes them',
        );
    })().finally(() => {
      pass = null;
      schedule();
    });
    return pass;
  };

  const schedule = () => {
    if (closed || timer || backlog.size === 0) return;
    timer = setTimeout(() => {
      timer = null;
      void retryBacklog();
    }, backgroundMs);
    // A backlog never keeps the process alive on its own: close() logs what is left.
    timer.unref();
  };

  const toBacklog = (record: UsageRecord, periods: string[]) => {
    if (closed)
      return giveUp({ record, periods, attempts: 0 }, 'the store closed before a usage record was written');
    backlog.set(record.requestId, { record, periods, attempts: 0 });
    if (backlog.size > maxBacklog) {
      const [oldestId, oldest] = backlog.entries().next().value as [string, Backlogged];
      backlog.delete(oldestId);
      giveUp(oldest, `more than ${maxBacklog} usage records wait for the store`);
    }
    schedule();
  };

  return {
    write(record, periods) {
      const job = (async () => {
        for (let i = 0; ; i++) {
          const result = await attempt(record, periods, i);
          if (result.written) return result;
          const delay = delays[i];
          if (delay === undefined) break;
          await sleep(delay);
        }
        toBacklog(record, periods);
        return NOT_WRITTEN;
      })();
      const slot = inLine.add(job);
      void job.finally(() => inLine.delete(slot));
      return withinMaxWait(job, maxWaitMs, deps.log, record);
    },
    pending: () => inLine.size + backlog.size,
    async flush(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const done = (async () => {
        await Promise.allSettled(inLine.values());
        while (backlog.size > 0 && !closed && Date.now() < deadline) {
          if (timer) clearTimeout(timer);
          timer = null;
          await retryBacklog();
          if (backlog.size > 0) await sleep(Math.min(backgroundMs, 200));
        }
      })();
      await Promise.race([done, sleep(timeoutMs)]);
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      for (const item of backlog.values())
        giveUp(item, 'the gateway stopped before a usage record could be written');
      backlog.clear();
    },
  };
}

/** One write of a record to the store; a failure is logged and reported as not written. */
async function settleOnce(
  deps: { store: Pick<BudgetStore, 'settle'>; log: Logger },
  record: UsageRecord,
  periods: string[],
  n: number,
  quiet: boolean,
): Promise<WriteResult> {
  try {
    const spend = await deps.store.settle(record, periods);
    return spend ? { written: true, spend } : { written: true };
  } catch (err) {
    if (!quiet)
      deps.log.error(
        { err, requestId: record.requestId, key: record.key, attempt: n + 1 },
        'could not write a usage record to the store; retrying',
      );
    return NOT_WRITTEN;
  }
}

/** The write's result, or NOT_WRITTEN after `maxWaitMs` (the write goes on in the background). */
function withinMaxWait(
  job: Promise<WriteResult>,
  maxWaitMs: number,
  log: Logger,
  record: UsageRecord,
): Promise<WriteResult> {
  let waitTimer: NodeJS.Timeout | undefined;
  const late = new Promise<WriteResult>((resolve) => {
    waitTimer = setTimeout(() => {
      log.error(
        { requestId: record.requestId, key: record.key, waitedMs: maxWaitMs },
        'the store has not settled a request yet; answering the client and still waiting for it',
      );
      resolve(NOT_WRITTEN);
    }, maxWaitMs);
  });
  return Promise.race([job, late]).finally(() => clearTimeout(waitTimer));
}
