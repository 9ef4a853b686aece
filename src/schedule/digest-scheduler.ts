import cron, { type ScheduledTask } from 'node-cron';
import type { Clock } from '../clock.js';
import type { ConfigHolder } from '../config/types.js';
import type { Logger } from '../log.js';
import type { DigestStore } from '../slack/digest/build-digest.js';
import { buildDigest } from '../slack/digest/build-digest.js';
import { type DigestMessage, renderDigestBlocks } from '../slack/digest/render-blocks.js';
import type { ClaimStore } from '../store/types.js';
import { dayOf, previousDay } from '../windows/calendar.js';
import { lastFireAtOrBefore } from './last-fire.js';

/**
 * Posts the daily digest for the previous local day, exactly once per day across restarts,
 * scheduler ticks and replicas. The store's once-only guard (`claimOnce('digest', day)`) is
 * taken before posting and released when the post fails, so a later attempt retries; node-cron's
 * own "distributed" mode is not used because it only asks a coordinator we would have to write
 * anyway. The trade-off: a process that dies between claiming and posting loses that day's
 * digest rather than risking a double post.
 */

export const DIGEST_SCOPE = 'digest';
export const DEFAULT_DIGEST_CRON = '0 9 * * *';

export type DigestRunResult = 'sent' | 'already-sent' | 'failed';

export interface DigestSchedulerDeps {
  store: Pick<ClaimStore, 'claimOnce' | 'releaseClaim'> & DigestStore;
  config: ConfigHolder;
  clock: Clock;
  log: Logger;
  post(msg: DigestMessage): Promise<void>;
  /** Defaults to `slack.digest` of the config, then 09:00 daily. */
  cronExpression?: string;
  /** Defaults to `server.timezone` of the config. */
  timeZone?: string;
  /** Wait before retrying a failed post of the day that is due (default 5 minutes). */
  retryMs?: number;
  /** Retries of one day's failed post before giving up until the next tick (default 12). */
  maxRetries?: number;
  /**
   * How often to look for a reloaded `slack.digest` or `server.timezone` (default 10 s). A change
   * reschedules the job; options given here are never overridden by the config.
   */
  reloadCheckMs?: number;
}

export interface DigestScheduler {
  /** Schedules the job and starts the catch-up of a missed digest in the background. */
  start(): Promise<void>;
  stop(): void;
  /** Builds and posts the digest of `day`; `force` skips the once-per-day guard entirely. */
  runFor(day: string, options?: { force?: boolean }): Promise<DigestRunResult>;
  /** The local day whose digest is due at `now`: the day before the latest scheduled time. */
  dueDay(now: number): string | null;
  /** Resolves when every run started so far has finished (for tests and shutdown). */
  idle(): Promise<void>;
}

export function createDigestScheduler(deps: DigestSchedulerDeps): DigestScheduler {
  const { config, clock, log } = deps;
  const scheduleOf = (): { expression: string; timeZone: string } => {
    const c = config.current().config;
    return {
      expression: deps.cronExpression ?? c.slack?.digest ?? DEFAULT_DIGEST_CRON,
      timeZone: deps.timeZone ?? c.server.timezone,
    };
  };
  let { expression, timeZone } = scheduleOf();
  const retryMs = deps.retryMs ?? 5 * 60_000;
  const maxRetries = deps.maxRetries ?? 12;
  let task: ScheduledTask | null = null;
  let reloadTimer: NodeJS.Timeout | null = null;
  const inFlight = new Set<Promise<unknown>>();
  const retryTimers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    return p;
  };

  const runFor = (day: string, options: { force?: boolean } = {}) => sendDigest(deps, day, options);

  function dueDay(now: number): string | null {
    const fired = lastFireAtOrBefore(expression, timeZone, now);
    return fired === null ? null : previousDay(dayOf(fired, timeZone));
  }

  /** Sends `day` unless already sent; on failure retries while that day is still the due one. */
  function attempt(day: string, retriesLeft: number): Promise<DigestRunResult> {
    return track(
      runFor(day).then((result) => {
        if (result === 'failed' && retriesLeft > 0 && !stopped) {
          const timer = setTimeout(() => {
            retryTimers.delete(timer);
            if (!stopped && dueDay(clock()) === day) void attempt(day, retriesLeft - 1);
          }, retryMs);
          timer.unref();
          retryTimers.add(timer);
        }
        return result;
      }),
    );
  }

  /** Schedules the job with the current expression and timezone, then catches up a missed day. */
  async function schedule(): Promise<void> {
    const next = cron.createTask(
      expression,
      // The tick's day comes from the injected clock, not node-cron's Date: tests move time.
      () => attempt(previousDay(dayOf(clock(), timeZone)), maxRetries),
      {
        timezone: timeZone,
        name: 'tollgate-digest',
        logger: cronLogger(log),
      },
    );
    task = next;
    await next.start();
    // Catch-up: the digest that was due by now (only the most recent one) if it was never sent.
    // Not awaited: a slow Slack must not hold up the gateway's start.
    const missed = dueDay(clock());
    if (missed) void attempt(missed, maxRetries);
    log.info({ cron: expression, timeZone, catchUp: missed }, 'digest scheduled');
  }

  /** A reload that changed the digest time or the timezone moves the job; the guard prevents repeats. */
  async function followReload(): Promise<void> {
    const wanted = scheduleOf();
    if (!task || (wanted.expression === expression && wanted.timeZone === timeZone)) return;
    if (!cron.validate(wanted.expression)) return;
    void task.destroy();
    task = null;
    ({ expression, timeZone } = wanted);
    await schedule();
  }

  return {
    async start() {
      if (task) return;
      stopped = false;
      await schedule();
      reloadTimer = setInterval(() => {
        followReload().catch((err: unknown) =>
          log.error({ err }, 'digest: could not reschedule after a reload'),
        );
      }, deps.reloadCheckMs ?? 10_000);
      reloadTimer.unref();
    },
    stop() {
      stopped = true;
      if (reloadTimer) clearInterval(reloadTimer);
      reloadTimer = null;
      for (const t of retryTimers) clearTimeout(t);
      retryTimers.clear();
      if (task) void task.destroy();
      task = null;
    },
    runFor: (day, options) => track(runFor(day, options)),
    dueDay,
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * Builds and posts the digest of `day`, under the once-per-day guard unless `force`: the guard is
 * released when the post fails, so that a later attempt retries.
 */
async function sendDigest(
  deps: DigestSchedulerDeps,
  day: string,
  options: { force?: boolean },
): Promise<DigestRunResult> {
  const { store, config, clock, log, post } = deps;
  const guarded = options.force !== true;
  if (guarded) {
    let claimed: boolean;
    try {
      claimed = await store.claimOnce(DIGEST_SCOPE, day, clock());
    } catch (err) {
      log.error({ err, day }, 'digest: could not take the once-per-day guard; not sending');
      return 'failed';
    }
    if (!claimed) {
      log.debug({ day }, 'digest already sent for this day');
      return 'already-sent';
    }
  }
  try {
    const loaded = config.current();
    const digest = await buildDigest({
      store,
      config: loaded.config,
      revision: loaded.revision,
      day,
      now: clock(),
    });
    await post(renderDigestBlocks(digest));
    log.info({ day, keys: digest.keys.length, flags: digest.flags.length, forced: !guarded }, 'digest sent');
    return 'sent';
  } catch (err) {
    log.error({ err, day }, 'digest: building or posting failed');
    if (guarded) {
      await store.releaseClaim(DIGEST_SCOPE, day).catch((releaseErr: unknown) => {
        log.error(
          { err: releaseErr, day },
          'digest: could not release the guard; this day will not be retried',
        );
      });
    }
    return 'failed';
  }
}

function cronLogger(log: Logger) {
  return {
    info: (m: string) => log.debug(`node-cron: ${m}`),
    warn: (m: string) => log.warn(`node-cron: ${m}`),
    error: (m: string | Error, err?: Error) => log.error({ err: err ?? m }, 'node-cron error'),
    debug: () => {},
  };
}
