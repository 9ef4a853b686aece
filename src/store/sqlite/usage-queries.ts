import type { Database, Statement } from 'better-sqlite3';
import { dayOf } from '../../windows/calendar.js';
import { HASH_GROUP_SELECT, type HashGroupRow, toHashRows } from '../hash-usage.js';
import { MEDIA_RECORDS, mediaUnits } from '../media-units.js';
import type { RollupRow, UsageGroupBy, UsageQuery, UsageRow } from '../types.js';

/**
 * `day` grouping buckets by quarter hour in SQL, then maps each bucket to its local day in the
 * asked timezone: every UTC offset in use today is a multiple of 15 minutes, so a bucket never
 * straddles a local midnight, and the query honours any timezone (not just the one the stored
 * `day` column was written in) without reading every row into JS.
 */
const BUCKET_MS = 15 * 60 * 1000;

interface GroupRow {
  g: string | number;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  images: number;
  audio_seconds: number;
  characters: number;
}

const GROUP_EXPR: Record<UsageGroupBy, string> = {
  key: 'key',
  model: "COALESCE(model, '')",
  status: 'status',
  day: `ts / ${BUCKET_MS}`,
  hash: 'key_hash', // grouped with the key in its own statement below
};

export interface SqliteUsageQueries {
  queryUsage(q: UsageQuery, timeZone: string): UsageRow[];
  rollup(fromDay: string, toDay: string): RollupRow[];
  spendBetween(key: string, since: number, until: number): { costUsd: number; requests: number };
  lastUsed(): Map<string, number>;
}

export function createSqliteUsageQueries(db: Database): SqliteUsageQueries {
  const grouped = new Map<string, Statement<unknown[], GroupRow>>();
  const groupStatement = (
    by: UsageGroupBy,
    byKey: boolean,
    media: boolean,
  ): Statement<unknown[], GroupRow> => {
    const id = `${by}:${byKey}:${media}`;
    let stmt = grouped.get(id);
    if (!stmt) {
      stmt = db.prepare<unknown[], GroupRow>(`
        SELECT ${GROUP_EXPR[by]} AS g, COUNT(*) AS requests,
          SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
          SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, SUM(cost_usd) AS cost_usd,
          COALESCE(SUM(images), 0) AS images, COALESCE(SUM(audio_seconds), 0) AS audio_seconds,
          COALESCE(SUM(characters), 0) AS characters
        FROM usage WHERE ts >= ? AND ts < ? ${byKey ? 'AND key = ?' : ''} ${media ? `AND (${MEDIA_RECORDS})` : ''}
        GROUP BY g`);
      grouped.set(id, stmt);
    }
    return stmt;
  };
  const rollupRows = db.prepare<[string, string], RollupDbRow>(`
    SELECT day, key, model, status, requests, input_tokens, output_tokens, cost_usd FROM usage_daily
    WHERE day >= ? AND day <= ? ORDER BY day, key, model, status`);
  const spendOfKey = db.prepare<[string, number, number], { cost: number; requests: number }>(
    'SELECT COALESCE(SUM(cost_usd), 0) AS cost, COUNT(*) AS requests FROM usage WHERE key = ? AND ts >= ? AND ts < ?',
  );
  // The rollup holds every key ever seen in few rows; MAX(ts) per key is then one index probe
  // each, where GROUP BY over usage would walk the whole (key, ts) index.
  const knownKeys = db.prepare<[], { key: string }>("SELECT DISTINCT key FROM usage_daily WHERE key <> ''");
  const latestOfKey = db.prepare<[string], { ts: number | null }>(
    'SELECT MAX(ts) AS ts FROM usage WHERE key = ?',
  );

  const byHash = [false, true].map((byKey) =>
    db.prepare<unknown[], HashGroupRow>(
      `SELECT ${HASH_GROUP_SELECT} FROM usage WHERE ts >= ? AND ts < ? ${byKey ? 'AND key = ?' : ''} GROUP BY key, key_hash`,
    ),
  ) as [Statement<unknown[], HashGroupRow>, Statement<unknown[], HashGroupRow>];

  return {
    queryUsage(q, timeZone) {
      const params: unknown[] = [q.since, q.until];
      if (q.key !== undefined) params.push(q.key);
      if (q.by === 'hash') return toHashRows(byHash[q.key === undefined ? 0 : 1].all(...params));
      const rows = groupStatement(q.by, q.key !== undefined, q.media === true).all(...params);
      if (q.by === 'day') return groupByLocalDay(rows, timeZone);
      const out = rows.map((r) => toUsageRow(q.by, r.g, r));
      return out.sort(
        (a, b) => b.cost_usd - a.cost_usd || String(groupOf(a, q.by)).localeCompare(String(groupOf(b, q.by))),
      );
    },
    rollup(fromDay, toDay) {
      return rollupRows.all(fromDay, toDay).map((r) => ({
        day: r.day,
        key: r.key,
        model: r.model,
        status: r.status,
        requests: r.requests,
        inputTokens: r.input_tokens,
        outputTokens: r.output_tokens,
        costUsd: r.cost_usd,
      }));
    },
    spendBetween(key, since, until) {
      const row = spendOfKey.get(key, since, until);
      return { costUsd: row?.cost ?? 0, requests: row?.requests ?? 0 };
    },
    lastUsed() {
      const out = new Map<string, number>();
      for (const { key } of knownKeys.all()) {
        const ts = latestOfKey.get(key)?.ts;
        if (ts !== null && ts !== undefined) out.set(key, ts);
      }
      return out;
    },
  };
}

interface RollupDbRow {
  day: string;
  key: string;
  model: string;
  status: number;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

function groupOf(row: UsageRow, by: UsageGroupBy): string | number | undefined {
  return row[by] ?? undefined;
}

function toUsageRow(by: UsageGroupBy, g: string | number, r: GroupRow): UsageRow {
  const counters = {
    requests: r.requests,
    errors: r.errors,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    cost_usd: r.cost_usd,
    ...mediaUnits(r),
  };
  if (by === 'status') return { status: Number(g), ...counters };
  return { [by]: String(g), ...counters };
}

function groupByLocalDay(rows: GroupRow[], timeZone: string): UsageRow[] {
  const days = new Map<string, UsageRow>();
  for (const r of rows) {
    const day = dayOf(Number(r.g) * BUCKET_MS, timeZone);
    const acc = days.get(day);
    if (!acc) {
      days.set(day, toUsageRow('day', day, r));
      continue;
    }
    acc.requests += r.requests;
    acc.errors += r.errors;
    acc.input_tokens += r.input_tokens;
    acc.output_tokens += r.output_tokens;
    acc.cost_usd += r.cost_usd;
    const units = mediaUnits(r);
    if (units.images) acc.images = (acc.images ?? 0) + units.images;
    if (units.audio_seconds) acc.audio_seconds = (acc.audio_seconds ?? 0) + units.audio_seconds;
    if (units.characters) acc.characters = (acc.characters ?? 0) + units.characters;
  }
  return [...days.values()].sort((a, b) => (a.day ?? '').localeCompare(b.day ?? ''));
}
