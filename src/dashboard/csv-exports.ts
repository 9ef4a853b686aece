import { toCsv } from '../csv.js';
import { renderUsage } from '../metering/usage-report.js';
import { parseSince, parseUntil } from '../ops/time-args.js';
import type { AuditEntry, UsageGroupBy, UsageRecord, UsageStore } from '../store/types.js';
import { formatTime } from './format.js';

const GROUPS: readonly UsageGroupBy[] = ['key', 'model', 'day', 'status'];

export class CsvQueryError extends Error {}

/**
 * `GET /dashboard/usage.csv?by=&since=&until=&key=`: exactly what `tollgate usage --format csv`
 * prints for the same flags, built by the same code from the same store query.
 */
export async function usageCsv(
  store: Pick<UsageStore, 'queryUsage'>,
  query: URLSearchParams,
  now: number,
  timeZone: string,
): Promise<string> {
  const by = (query.get('by') ?? 'key') as UsageGroupBy;
  if (!GROUPS.includes(by)) throw new CsvQueryError(`by must be one of ${GROUPS.join(', ')}; got '${by}'.`);
  let since: number;
  let until: number;
  try {
    since = parseSince(query.get('since') || '7d', now, timeZone);
    const u = query.get('until');
    until = u ? parseUntil(u, timeZone) : now + 1;
  } catch (err) {
    throw new CsvQueryError((err as Error).message.replace(/--/g, ''));
  }
  const key = query.get('key') || undefined;
  const rows = await store.queryUsage({ since, until, by, ...(key ? { key } : {}) }, timeZone);
  return renderUsage(rows, by, 'csv');
}

/** A key's recent requests as on its page: never a prompt, and the key only by name. */
export function requestsCsv(records: UsageRecord[], timeZone: string): string {
  const header = [
    'time',
    'request_id',
    'model',
    'requested_model',
    'route',
    'status',
    'error_code',
    'input_tokens',
    'cached_tokens',
    'cache_write_tokens',
    'output_tokens',
    'cost_usd',
    'latency_ms',
    'stream',
    'user_agent',
    'ip',
    'usage_source',
    'config_revision',
    'images',
    'audio_seconds',
    'characters',
  ];
  const lines = records.map((r) => [
    formatTime(r.ts, timeZone),
    r.requestId,
    r.model ?? '',
    r.requestedModel ?? '',
    r.route,
    String(r.status),
    r.errorCode ?? '',
    String(r.inputTokens),
    String(r.cachedTokens),
    String(r.cacheWriteTokens ?? 0),
    String(r.outputTokens),
    r.costUsd.toFixed(6),
    String(Math.round(r.latencyMs)),
    r.stream ? 'true' : 'false',
    r.userAgent ?? '',
    r.ip ?? '',
    r.usageSource,
    r.configRevision,
    r.images == null ? '' : String(r.images),
    r.audioSeconds == null ? '' : String(r.audioSeconds),
    r.characters == null ? '' : String(r.characters),
  ]);
  return toCsv([header, ...lines]);
}

export function auditCsv(entries: AuditEntry[], timeZone: string): string {
  const header = ['time', 'action', 'key', 'actor', 'source', 'reason', 'result'];
  const lines = entries.map((e) => [
    formatTime(e.at, timeZone),
    e.action,
    e.key ?? '',
    e.actor,
    e.source,
    e.reason ?? '',
    e.result,
  ]);
  return toCsv([header, ...lines]);
}
