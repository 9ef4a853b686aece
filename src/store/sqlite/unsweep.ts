import type { Database } from 'better-sqlite3';
import { RECOVERED_ERROR_CODE, RECOVERED_STATUS } from '../recovered-usage.js';

/** What the sweep charged for a request whose reservation expired before it settled. */
export interface SweptCharge {
  key: string;
  costUsd: number;
}

/**
 * Takes back the record the sweep wrote for request `id` (recovered-usage.ts), and its share of
 * the daily rollup, inside the caller's transaction: what it charged is returned for the caller
 * to take out of spend. Undefined when the request's record is not one the sweep wrote (or there
 * is none). The same rule as the PostgreSQL store's tollgate_unsweep (migration 17).
 */
export type Unsweep = (id: string) => SweptCharge | undefined;

interface SweptRow {
  key: string;
  day: string;
  model: string | null;
  status: number;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
}

export function createUnsweep(db: Database): Unsweep {
  const takeRecord = db.prepare<[string, number, string], SweptRow>(
    `DELETE FROM usage WHERE request_id = ? AND status = ? AND error_code = ? AND usage_source = 'reserved'
     RETURNING key, day, model, status, cost_usd, input_tokens, output_tokens`,
  );
  const unroll = db.prepare<[number, number, number, string, string, string, number]>(
    `UPDATE usage_daily SET requests = requests - 1, input_tokens = input_tokens - ?,
       output_tokens = output_tokens - ?, cost_usd = cost_usd - ?
     WHERE day = ? AND key = ? AND model = ? AND status = ?`,
  );
  const dropEmpty = db.prepare<[string, string, string, number]>(
    'DELETE FROM usage_daily WHERE day = ? AND key = ? AND model = ? AND status = ? AND requests <= 0',
  );
  return (id) => {
    const row = takeRecord.get(id, RECOVERED_STATUS, RECOVERED_ERROR_CODE);
    if (!row) return undefined;
    const model = row.model ?? '';
    unroll.run(row.input_tokens, row.output_tokens, row.cost_usd, row.day, row.key, model, row.status);
    dropEmpty.run(row.day, row.key, model, row.status);
    return { key: row.key, costUsd: row.cost_usd };
  };
}
