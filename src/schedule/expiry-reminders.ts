import type { Clock } from '../clock.js';
import { DEFAULT_EXPIRY_DAYS } from '../config/load/normalize.js';
import type { ConfigHolder, KeyConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { type ExpiryMessage, expiryReminder } from '../slack/expiry-message.js';
import type { ClaimStore } from '../store/types.js';
import { dayRange } from '../windows/bounds.js';
import { dayOf } from '../windows/calendar.js';

/**
 * Reminds a key's `notify` users in slack.channel that many days before the key expires
 * (`slack.alerts.expiry_days`, default [7, 1]). Checked at start and every hour. Each reminder is
 * claimed in the store under (key, expiry date, days) before it is posted, so several replicas and
 * restarts send it once; moving `expires` makes a fresh set. A failed post releases its claim, so
 * the next hourly check retries it.
 */

export const EXPIRY_SCOPE = 'expiry-reminder';
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface ExpiryRemindersDeps {
  store: Pick<ClaimStore, 'claimOnce' | 'releaseClaim'>;
  config: ConfigHolder;
  clock: Clock;
  log: Logger;
  /** Posts to slack.channel; throws when Slack refuses. */
  post(msg: ExpiryMessage): Promise<void>;
  /** Default one hour. */
  everyMs?: number;
}

export interface ExpiryReminders {
  /** Starts the hourly check and runs the first one in the background. */
  start(): void;
  stop(): void;
  /** One check: posts every reminder that is due and not yet sent; resolves with how many it sent. */
  check(): Promise<number>;
  /** Resolves when every check started so far has finished (tests, shutdown). */
  idle(): Promise<void>;
}

/** The instant the `days` reminder is due: the start of the local day `days - 1` before `expires`. */
export function reminderDueAt(expires: string, days: number, timeZone: string): number {
  const [y, m, d] = expires.split('-').map(Number) as [number, number, number];
  const due = new Date(Date.UTC(y, m - 1, d - (days - 1))).toISOString().slice(0, 10);
  return dayRange(due, timeZone).start;
}

/** Local days left including today: 1 on the key's last day. */
function daysLeft(expires: string, now: number, timeZone: string): number {
  return Math.round((Date.parse(expires) - Date.parse(dayOf(now, timeZone))) / DAY_MS) + 1;
}

export function createExpiryReminders(deps: ExpiryRemindersDeps): ExpiryReminders {
  const { store, config, clock, log } = deps;
  const inFlight = new Set<Promise<unknown>>();
  let timer: NodeJS.Timeout | null = null;

  const idOf = (key: KeyConfig, days: number) => `${key.name}:${key.expires}:${days}`;

  async function remind(key: KeyConfig & { expires: string }, due: number[], now: number): Promise<boolean> {
    const cfg = config.current().config;
    // Only the most urgent reminder due goes out; the earlier ones are claimed on the way so that
    // a gateway that was down for the 7-day one does not send it after the 1-day one.
    const [urgent, ...earlier] = [...due].sort((a, b) => a - b) as [number, ...number[]];
    const first = await store.claimOnce(EXPIRY_SCOPE, idOf(key, urgent), now);
    for (const d of earlier) await store.claimOnce(EXPIRY_SCOPE, idOf(key, d), now);
    if (!first) return false;
    try {
      await deps.post(
        expiryReminder({
          key,
          daysLeft: daysLeft(key.expires, now, cfg.server.timezone),
          timeZone: cfg.server.timezone,
        }),
      );
      log.info({ key: key.name, expires: key.expires, days: urgent }, 'expiry reminder sent');
      return true;
    } catch (err) {
      log.warn({ err, key: key.name }, 'could not post an expiry reminder; retrying at the next check');
      await store
        .releaseClaim(EXPIRY_SCOPE, idOf(key, urgent))
        .catch((releaseErr: unknown) =>
          log.warn({ err: releaseErr }, 'could not release an expiry reminder'),
        );
      return false;
    }
  }

  async function check(): Promise<number> {
    const cfg = config.current().config;
    if (!cfg.slack?.channel) return 0;
    const levels = cfg.slack.alerts.expiryDays ?? DEFAULT_EXPIRY_DAYS;
    if (levels.length === 0) return 0;
    const now = clock();
    let sent = 0;
    for (const key of Object.values(cfg.keys)) {
      const { expires, expiresAt } = key;
      // A key the file disables, or one already expired, needs no reminder.
      if (expires === undefined || expiresAt === undefined || key.disabled || now >= expiresAt) continue;
      const due = levels.filter((d) => now >= reminderDueAt(expires, d, cfg.server.timezone));
      if (due.length === 0) continue;
      if (await remind({ ...key, expires }, due, now)) sent++;
    }
    return sent;
  }

  function run(): Promise<number> {
    const p = check().catch((err: unknown) => {
      log.warn({ err }, 'expiry reminders: check failed; retrying at the next check');
      return 0;
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    return p;
  }

  return {
    start() {
      if (timer) return;
      void run();
      timer = setInterval(() => void run(), deps.everyMs ?? HOUR_MS);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
    check: run,
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
