import type { Database, Statement } from 'better-sqlite3';
import { ROLLUP_SUMS } from '../insight-sql.js';
import type { UsageRecord } from '../types.js';

/**
 * The rollups of the records one transaction wrote, summed here per row and written once per row
 * before the COMMIT: usage_daily (per day, key, model and status) and the insight rollup
 * usage_insight_days (per UTC day, key, model, user agent and IP; SQLite migrations 11 and 13,
 * docs/insights.md#cost). The insight sums are migration 11's, record by record: "long" is 32,000
 * input tokens or more, "small" under 1,000 input and output tokens (with some input), "capped"
 * output that reached a positive output limit, and n0…n23 / c0…c23 the requests and cost of each
 * UTC hour. Records without a key are left out of the insight rollup (not of usage_daily).
 */
export interface BatchRollup {
  /** Adds a record just inserted (with batch_rollup = 1) to the pending sums. */
  add(u: UsageRecord): void;
  /** Writes the pending sums, one upsert per row, and forgets them: last in the transaction. */
  flush(): void;
  /** Forgets the pending sums (their transaction rolled back). */
  discard(): void;
}

const HOURS = 24;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const LONG_INPUT_TOKENS = 32_000;
const SMALL_TOKENS = 1_000;

/**
 * One rollup row's share of one UTC hour: its records' 18 sums, then the hour's requests and cost
 * (n<hour>, c<hour>). A batch's records are milliseconds apart, nearly always in one hour, so the
 * upsert binds and rewrites those two hour columns only, not all 48.
 */
interface Pending {
  key: string;
  day: number;
  model: string;
  userAgent: string;
  ip: string;
  hour: number;
  /** ROLLUP_SUMS' sums, then n<hour>, c<hour>. */
  sums: number[];
}

/** Migration 11's sums of record `u`, added into `s`. */
function addSums(s: number[], u: UsageRecord): void {
  const inTok = u.inputTokens;
  const outTok = u.outputTokens;
  const cached = u.cachedTokens;
  const cacheWrite = u.cacheWriteTokens ?? 0;
  const cost = u.costUsd;
  s[0] = (s[0] as number) + 1;
  if (u.status >= 400) s[1] = (s[1] as number) + 1;
  if (inTok > 0) s[2] = (s[2] as number) + 1;
  s[3] = (s[3] as number) + inTok;
  s[4] = (s[4] as number) + cached;
  s[5] = (s[5] as number) + cacheWrite;
  s[6] = (s[6] as number) + outTok;
  s[7] = (s[7] as number) + cost;
  if (inTok >= LONG_INPUT_TOKENS) {
    s[8] = (s[8] as number) + 1;
    s[9] = (s[9] as number) + cost;
  }
  if (inTok > 0 && inTok < SMALL_TOKENS && outTok < SMALL_TOKENS) {
    s[10] = (s[10] as number) + 1;
    s[11] = (s[11] as number) + inTok;
    s[12] = (s[12] as number) + cached;
    s[13] = (s[13] as number) + cacheWrite;
    s[14] = (s[14] as number) + outTok;
    s[15] = (s[15] as number) + cost;
  }
  const limit = u.outputLimit ?? 0;
  if (limit > 0 && outTok >= limit) {
    s[16] = (s[16] as number) + 1;
    s[17] = (s[17] as number) + cost;
  }
  s[18] = (s[18] as number) + 1;
  s[19] = (s[19] as number) + cost;
}

type InsightParams = [string, number, string, string, string, ...number[]];
type DailyParams = [string, string, string, number, number, number, number, number];

/** The upsert of one rollup row's share of UTC hour `h`. */
function insightUpsert(h: number): string {
  const columns = [...ROLLUP_SUMS, `n${h}`, `c${h}`];
  return `INSERT INTO usage_insight_days (key, day, model, user_agent, ip, ${columns.join(', ')})
    VALUES (?, ?, ?, ?, ?, ${columns.map(() => '?').join(', ')})
    ON CONFLICT (key, day, model, user_agent, ip) DO UPDATE SET
      ${columns.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;
}

export function createBatchRollup(db: Database): BatchRollup {
  // Prepared at the first record of each hour.
  const byHour: Array<Statement<InsightParams> | undefined> = new Array(HOURS);
  const upsertInsight = (h: number) => {
    let st = byHour[h];
    if (!st) {
      st = db.prepare<InsightParams>(insightUpsert(h));
      byHour[h] = st;
    }
    return st;
  };
  const upsertDaily = db.prepare<DailyParams>(`
    INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (day, key, model, status) DO UPDATE SET
      requests = requests + excluded.requests,
      input_tokens = input_tokens + excluded.input_tokens,
      output_tokens = output_tokens + excluded.output_tokens,
      cost_usd = cost_usd + excluded.cost_usd`);
  let insight = new Map<string, Pending>();
  let daily = new Map<string, DailyParams>();

  const addDaily = (u: UsageRecord, model: string) => {
    const id = `${u.day}\u0000${u.key}\u0000${model}\u0000${u.status}`;
    const p = daily.get(id);
    if (p) {
      p[4] += 1;
      p[5] += u.inputTokens;
      p[6] += u.outputTokens;
      p[7] += u.costUsd;
    } else {
      daily.set(id, [u.day, u.key, model, u.status, 1, u.inputTokens, u.outputTokens, u.costUsd]);
    }
  };

  return {
    add(u) {
      const model = u.model ?? '';
      addDaily(u, model);
      if (u.key === '') return;
      const ts = u.ts;
      const inDay = ts % DAY_MS;
      const day = ts - inDay;
      const hour = Math.floor(inDay / HOUR_MS);
      const userAgent = u.userAgent ?? '';
      const ip = u.ip ?? '';
      const id = `${day}\u0000${hour}\u0000${u.key}\u0000${model}\u0000${userAgent}\u0000${ip}`;
      let row = insight.get(id);
      if (!row) {
        row = { key: u.key, day, model, userAgent, ip, hour, sums: new Array<number>(20).fill(0) };
        insight.set(id, row);
      }
      addSums(row.sums, u);
    },
    flush() {
      if (daily.size === 0 && insight.size === 0) return;
      const rows = insight;
      const days = daily;
      insight = new Map();
      daily = new Map();
      for (const p of days.values()) upsertDaily.run(...p);
      for (const r of rows.values())
        upsertInsight(r.hour).run(r.key, r.day, r.model, r.userAgent, r.ip, ...r.sums);
    },
    discard() {
      insight = new Map();
      daily = new Map();
    },
  };
}
