import type { AdminHttpOptions } from '../billing/admin-http.js';
import { billedUpstreams, checkUpstreamDay } from '../billing/check-day.js';
import type { BillRow } from '../billing/types.js';
import type { Clock } from '../clock.js';
import type { ConfigHolder } from '../config/types.js';
import type { Logger } from '../log.js';
import { ALERTED_VERDICTS, billAlertMessage } from '../slack/bill-check-alert.js';
import type { BillCheckStore } from '../store/bill-check-types.js';
import type { ClaimStore } from '../store/types.js';

/**
 * Runs the bill check (docs/bill-check.md#scheduling) for every UTC day whose provider reports
 * have settled: a day is due from 02:00 UTC the day after. Checked at start and every 15 minutes;
 * each (day, upstream) is claimed in the store before it runs, so several replicas and restarts
 * run it once, and a gateway that was down catches up the days it missed (up to a week back;
 * an upstream checked for the first time starts with the latest day).
 * A report the provider could not serve for a passing reason (timeout, 429, 5xx) releases its
 * claim and is asked again on a later tick; a refused admin key stays "unavailable" for the day
 * rather than hammering the admin API. Each `unmetered` or `mispriced` row alerts once.
 */

export const BILL_CHECK_SCOPE = 'bill-check';
export const BILL_ALERT_SCOPE = 'bill-check-alert';
/** The providers' reports lag by minutes to hours: a day is checked from 02:00 UTC after it. */
export const SETTLE_MS = 2 * 3_600_000;
export const CATCH_UP_DAYS = 7;
const DAY_MS = 86_400_000;

export interface BillCheckSchedulerDeps {
  store: Pick<ClaimStore, 'claimOnce' | 'releaseClaim'> & BillCheckStore;
  config: ConfigHolder;
  clock: Clock;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Posts to slack.channel; absent without Slack (the rows are still kept). */
  post?: (msg: { text: string }) => Promise<void>;
  /** Rows of every check that ran (metrics). */
  onRows?: (rows: readonly BillRow[]) => void;
  http?: AdminHttpOptions;
  /** Default 15 minutes. */
  everyMs?: number;
}

export interface BillCheckScheduler {
  start(): void;
  stop(): void;
  /** One pass: checks every due day not yet checked; resolves with the rows it produced. */
  check(): Promise<BillRow[]>;
  idle(): Promise<void>;
}

/** The UTC days due at `now`, oldest first: the settled ones of the last CATCH_UP_DAYS. */
export function dueDays(now: number): string[] {
  const latestEnd = Math.floor((now - SETTLE_MS) / DAY_MS) * DAY_MS;
  const out: string[] = [];
  for (let i = CATCH_UP_DAYS; i >= 1; i--)
    out.push(new Date(latestEnd - i * DAY_MS).toISOString().slice(0, 10));
  return out;
}

export function createBillCheckScheduler(deps: BillCheckSchedulerDeps): BillCheckScheduler {
  const { store, clock, log } = deps;
  const inFlight = new Set<Promise<unknown>>();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<BillRow[]> | null = null;

  async function alert(row: BillRow): Promise<void> {
    if (!deps.post || !ALERTED_VERDICTS.has(row.verdict)) return;
    const id = `${row.date}/${row.upstream}/${row.model}`;
    if (!(await store.claimOnce(BILL_ALERT_SCOPE, id, clock()))) return;
    try {
      await deps.post(billAlertMessage(row));
      log.warn(
        { upstream: row.upstream, date: row.date, model: row.model, verdict: row.verdict },
        'bill check alert sent',
      );
    } catch (err) {
      await store.releaseClaim(BILL_ALERT_SCOPE, id).catch(() => {});
      log.error(
        { err, upstream: row.upstream, date: row.date },
        'bill check: the Slack alert failed; it is retried on the next pass',
      );
    }
  }

  async function pass(): Promise<BillRow[]> {
    const config = deps.config.current().config;
    const upstreams = billedUpstreams(config);
    const out: BillRow[] = [];
    if (upstreams.length === 0) return out;
    const due = dueDays(clock());
    // Days are caught up from an upstream's first kept check on; one with none yet is new to the
    // check and starts with the latest day: a week back would report (and alert) usage from before
    // tollgate served it.
    const first = new Map<string, string>();
    for (const r of await store.billChecks(due[0] ?? '', due.at(-1) ?? '')) {
      if (r.date < (first.get(r.upstream) ?? '9999')) first.set(r.upstream, r.date);
    }
    for (const date of due) {
      for (const u of upstreams) {
        if (date < (first.get(u.name) ?? due.at(-1) ?? '')) continue;
        const id = `${date}/${u.name}`;
        if (!(await store.claimOnce(BILL_CHECK_SCOPE, id, clock()))) continue;
        try {
          const result = await checkUpstreamDay(
            { config, store, env: deps.env, now: clock, ...(deps.http ? { http: deps.http } : {}) },
            u,
            date,
          );
          if (result.transient) await store.releaseClaim(BILL_CHECK_SCOPE, id);
          out.push(...result.rows);
          deps.onRows?.(result.rows);
          log.info(
            { upstream: u.name, date, verdicts: result.rows.map((r) => r.verdict) },
            'bill check done',
          );
          for (const row of result.rows) await alert(row);
        } catch (err) {
          await store.releaseClaim(BILL_CHECK_SCOPE, id).catch(() => {});
          log.error({ err, upstream: u.name, date }, 'bill check failed; it is retried on the next pass');
        }
      }
    }
    return out;
  }

  function check(): Promise<BillRow[]> {
    // One pass at a time in this process; the store's claims keep replicas apart.
    if (running) return running;
    const p = pass().finally(() => {
      running = null;
    });
    running = p;
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    return p;
  }

  return {
    start() {
      if (timer) return;
      void check().catch((err: unknown) => log.error({ err }, 'bill check pass failed'));
      timer = setInterval(
        () => {
          void check().catch((err: unknown) => log.error({ err }, 'bill check pass failed'));
        },
        deps.everyMs ?? 15 * 60_000,
      );
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
    check,
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
