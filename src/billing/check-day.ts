import type { Config, UpstreamConfig } from '../config/types.js';
import { maskSecrets } from '../keys/mask-secrets.js';
import type { BillCheckStore } from '../store/bill-check-types.js';
import { AdminApiError, type AdminHttpOptions } from './admin-http.js';
import { readAnthropicReport } from './anthropic-reports.js';
import { compareDay, unavailableDay } from './compare.js';
import { type DayRange, readOpenAiReport } from './openai-reports.js';
import { foldReport } from './price-report.js';
import type { BillRow, ProviderReport } from './types.js';

/**
 * One bill check: one upstream, one UTC day. Reads tollgate's records and the provider's reports,
 * compares them, and keeps the rows in the store (docs/bill-check.md). The provider's failure is
 * a row that says "unavailable" with its reason, never an exception: the check never blocks
 * anything, and a day that could not be read is visible as such. Store failures do throw.
 */

export interface BillCheckDeps {
  config: Config;
  store: BillCheckStore;
  env: NodeJS.ProcessEnv;
  now: () => number;
  http?: AdminHttpOptions;
}

const DAY_MS = 86_400_000;

/** 00:00 UTC of `date` (YYYY-MM-DD) and of the next day. */
export function utcDay(date: string): DayRange {
  const start = Date.parse(`${date}T00:00:00Z`);
  return { start, end: start + DAY_MS };
}

/** The UTC day before the one `now` falls in. */
export function previousUtcDay(now: number): string {
  return new Date(now - DAY_MS).toISOString().slice(0, 10);
}

export function billedUpstreams(config: Config, only?: string): UpstreamConfig[] {
  return Object.values(config.upstreams).filter((u) => u.billing && (only === undefined || u.name === only));
}

function readReport(
  u: UpstreamConfig,
  adminKey: string,
  day: DayRange,
  http?: AdminHttpOptions,
): Promise<ProviderReport> {
  const billing = u.billing as NonNullable<UpstreamConfig['billing']>;
  return u.format === 'anthropic'
    ? readAnthropicReport(u.baseUrl, billing, adminKey, day, http)
    : readOpenAiReport(u.baseUrl, billing, adminKey, day, http);
}

export interface UpstreamDayResult {
  rows: BillRow[];
  /** The report could not be read for a reason that may pass (timeout, 429, 5xx): worth asking again later. */
  transient: boolean;
}

const isTransient = (err: unknown) =>
  !(err instanceof AdminApiError) || err.status === 0 || err.status === 429 || err.status >= 500;

export async function checkUpstreamDay(
  deps: BillCheckDeps,
  u: UpstreamConfig,
  date: string,
): Promise<UpstreamDayResult> {
  const billing = u.billing;
  if (!billing) return { rows: [], transient: false };
  const day = utcDay(date);
  const metered = await deps.store.meteredByModel(u.name, day.start, day.end);
  const adminKey = deps.env[billing.adminKeyEnv] ?? '';
  let rows: BillRow[];
  let transient = false;
  if (adminKey === '') {
    rows = unavailableDay(u.name, date, metered, `the admin key variable ${billing.adminKeyEnv} is not set`);
  } else {
    try {
      const report = await readReport(u, adminKey, day, deps.http);
      const billed = foldReport(report, deps.config, u.name, billing, day.start + DAY_MS / 2);
      rows = compareDay(u.name, date, metered, billed, report.costs !== undefined);
    } catch (err) {
      // Whatever failed on the way, its message never carries the admin key.
      const reason =
        err instanceof AdminApiError
          ? err.message
          : `the report could not be read: ${(err as Error).message}`;
      rows = unavailableDay(u.name, date, metered, maskSecrets(reason, [adminKey]));
      transient = isTransient(err);
    }
  }
  await deps.store.saveBillChecks(date, u.name, rows, deps.now());
  return { rows, transient };
}

/** Every upstream with a billing section (or only `only`), for one UTC day. */
export async function checkDay(deps: BillCheckDeps, date: string, only?: string): Promise<BillRow[]> {
  const rows: BillRow[] = [];
  for (const u of billedUpstreams(deps.config, only))
    rows.push(...(await checkUpstreamDay(deps, u, date)).rows);
  return rows;
}
