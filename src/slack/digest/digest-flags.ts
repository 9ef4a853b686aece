import { ownEntry } from '../../config/own.js';
import type { Config, KeyConfig } from '../../config/types.js';
import type { DisableRecord, UsageStore } from '../../store/types.js';
import { dayRange } from '../../windows/bounds.js';
import { dayOf } from '../../windows/calendar.js';
import { hashFlagItems } from './hash-flags.js';
import type { DigestKeyLine } from './key-line.js';
import { formatPercent, formatUsd } from './money.js';

/**
 * The digest's flags: things a team lead should act on, each with the key names. Every rule
 * is a plain condition on the day's numbers and the config, so a test can hold it true or false.
 */

export type FlagKind =
  | 'near_limit'
  | 'spike'
  | 'error_rate'
  | 'unused'
  | 'stale_hash'
  | 'rotating'
  | 'expiring'
  | 'disabled_drift'
  | 'no_expiry'
  | 'no_limit';

export interface DigestFlag {
  kind: FlagKind;
  title: string;
  /** `detail` is '' when the title says it all (no expiry, no limit). */
  items: { key: string; detail: string }[];
}

export const FLAG_TITLES: Record<FlagKind, string> = {
  near_limit: 'Near or over a limit',
  spike: 'Spend spike',
  error_rate: 'Error rate above 10%',
  unused: 'Unused for 7 days (disable it?)',
  stale_hash: 'Still lists a hash unused for 7 days (rotated? drop it in a PR)',
  rotating: 'Rotation in progress: every listed hash is still in use',
  expiring: 'Expiring within 7 days',
  disabled_drift: 'Disabled from Slack but not in keys.yaml (fix in a PR)',
  no_expiry: 'No expiry',
  no_limit: 'No spending limit (neither daily_usd nor monthly_usd)',
};

const FLAG_ORDER: FlagKind[] = [
  'near_limit',
  'spike',
  'error_rate',
  'unused',
  'stale_hash',
  'rotating',
  'expiring',
  'disabled_drift',
  'no_expiry',
  'no_limit',
];

/** Share of a daily or monthly limit from which a key is "near" it. */
export const NEAR_LIMIT_SHARE = 0.8;
/** A day is a spike when it is at least this many times the key's 7-day average… */
export const SPIKE_RATIO = 2;
/** …and at least this much, so a key going from $0.01 to $0.03 is not news. */
export const SPIKE_MIN_USD = 1;
export const ERROR_RATE_THRESHOLD = 0.1;
export const SOON_DAYS = 7;

const DAY_MS = 86_400_000;

/** A key's spend around the digest day, from the rollup. */
export interface KeyHistory {
  /** Spend in the 7 days before the digest day. */
  previousWeekCostUsd: number;
  /** Requests in the 7 days ending with the digest day. */
  requestsLast7Days: number;
  /** Spend from the 1st of the month through the digest day. */
  monthCostUsd: number;
}

export interface FlagInput {
  store: Pick<UsageStore, 'lastUsed' | 'queryUsage'>;
  config: Config;
  day: string;
  now: number;
  keys: DigestKeyLine[];
  history: Map<string, KeyHistory>;
  disabled: Map<string, DisableRecord>;
}

function nearLimitDetail(line: DigestKeyLine | undefined, key: KeyConfig, monthCost: number): string | null {
  const parts: string[] = [];
  const daily = key.limits.dailyUsd;
  if (line && daily !== undefined && daily > 0 && line.costUsd >= NEAR_LIMIT_SHARE * daily) {
    parts.push(
      line.costUsd >= daily
        ? `at its ${formatUsd(daily)} daily limit`
        : `${formatPercent(line.costUsd / daily)} of its ${formatUsd(daily)} daily limit`,
    );
  }
  const monthly = key.limits.monthlyUsd;
  if (monthly !== undefined && monthly > 0 && monthCost >= NEAR_LIMIT_SHARE * monthly) {
    parts.push(
      monthCost >= monthly
        ? `at its ${formatUsd(monthly)} monthly limit`
        : `${formatPercent(monthCost / monthly)} of its ${formatUsd(monthly)} monthly limit`,
    );
  }
  return parts.length > 0 ? parts.join('; ') : null;
}

function errorDetail(line: DigestKeyLine): string {
  const classes = Object.entries(line.errorsByClass)
    .filter(([, n]) => n > 0)
    .map(([cls, n]) => `${cls}: ${n}`)
    .join(', ');
  return `${formatPercent(line.errors / line.requests)} of ${line.requests} requests failed (${classes})`;
}

function disableSource(d: DisableRecord): string {
  return {
    slack: 'Slack',
    admin_api: 'the admin API',
    dashboard: 'the dashboard',
    circuit_breaker: 'the circuit breaker',
  }[d.source];
}

export async function computeFlags(input: FlagInput): Promise<DigestFlag[]> {
  const { config, day, now, keys, history, disabled } = input;
  const tz = config.server.timezone;
  const items = new Map<FlagKind, { key: string; detail: string }[]>(FLAG_ORDER.map((k) => [k, []]));
  const add = (kind: FlagKind, key: string, detail: string) => items.get(kind)?.push({ key, detail });
  const lines = new Map(keys.map((l) => [l.key, l]));

  for (const line of keys) {
    const h = history.get(line.key);
    const average = (h?.previousWeekCostUsd ?? 0) / 7;
    if (line.costUsd >= SPIKE_MIN_USD && line.costUsd >= SPIKE_RATIO * average) {
      add(
        'spike',
        line.key,
        average > 0
          ? `${formatUsd(line.costUsd)} vs ${formatUsd(average)}/day over the previous 7 days`
          : `${formatUsd(line.costUsd)} after no spend in the previous 7 days`,
      );
    }
    if (line.requests > 0 && line.errors / line.requests > ERROR_RATE_THRESHOLD) {
      add('error_rate', line.key, errorDetail(line));
    }
  }

  const unused: string[] = [];
  for (const key of Object.values(config.keys)) {
    const near = nearLimitDetail(lines.get(key.name), key, history.get(key.name)?.monthCostUsd ?? 0);
    if (near) add('near_limit', key.name, near);
    // Hygiene flags are about keys that can still be used: a disabled key needs no cleanup advice.
    if (key.disabled || disabled.has(key.name)) continue;
    if ((history.get(key.name)?.requestsLast7Days ?? 0) === 0) unused.push(key.name);
    if (key.expiresAt !== undefined && key.expiresAt > now && key.expiresAt <= now + SOON_DAYS * DAY_MS) {
      add('expiring', key.name, `expires ${key.expires ?? dayOf(key.expiresAt - 1, tz)} (end of day, ${tz})`);
    }
    if (key.expiresAt === undefined) add('no_expiry', key.name, '');
    if (key.limits.dailyUsd === undefined && key.limits.monthlyUsd === undefined) {
      add('no_limit', key.name, '');
    }
  }

  if (unused.length > 0) {
    // Only asked when there is something to say: a full scan of last use is not needed every day.
    const lastUsed = await input.store.lastUsed();
    const dayStart = dayRange(day, tz).start;
    for (const name of unused) {
      const at = lastUsed.get(name);
      add(
        'unused',
        name,
        at === undefined
          ? 'never used'
          : at < dayStart
            ? `last used ${dayOf(at, tz)}`
            : `no use in the 7 days to ${day}`,
      );
    }
  }

  const hashes = await hashFlagItems(input.store, config, day, (k) => disabled.has(k));
  for (const item of hashes.stale) add('stale_hash', item.key, item.detail);
  for (const item of hashes.rotating) add('rotating', item.key, item.detail);

  for (const [name, d] of disabled) {
    const key = ownEntry(config.keys, name);
    if (key?.disabled) continue;
    const why = d.reason ? `: ${d.reason}` : '';
    add(
      'disabled_drift',
      name,
      key
        ? `disabled from ${disableSource(d)} by ${d.by} on ${dayOf(d.at, tz)}${why}; keys.yaml still enables it`
        : `disabled from ${disableSource(d)} by ${d.by} on ${dayOf(d.at, tz)}${why}; no longer in keys.yaml`,
    );
  }

  return FLAG_ORDER.flatMap((kind) => {
    const list = items.get(kind) ?? [];
    if (list.length === 0) return [];
    list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return [{ kind, title: FLAG_TITLES[kind], items: list }];
  });
}
