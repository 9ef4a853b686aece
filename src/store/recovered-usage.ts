import { windowOfPeriod } from '../windows/budget-windows.js';
import type { UsageRecord } from './types.js';

/**
 * The usage record written for a reservation that was never settled because the process that
 * owned it died. Shared by both stores so the digest and `tollgate usage` see the same thing.
 *
 * Status 0: no HTTP status is known for a request whose process died mid-flight (the postgres
 * store records the same), and `errorCode: 'reservation_expired'` makes these rows findable.
 * The cost is the whole reserved amount, the request's maximum: budgets are hard, so what we
 * cannot prove unspent is charged.
 */
export const RECOVERED_STATUS = 0;
export const RECOVERED_ERROR_CODE = 'reservation_expired';

export interface ExpiredReservation {
  id: string;
  key: string;
  amountUsd: number;
  periods: string[];
  createdAt: number;
}

export function recoveredUsage(r: ExpiredReservation, now: number): UsageRecord {
  return {
    requestId: r.id,
    ts: r.createdAt,
    day: dayOfReservation(r),
    key: r.key,
    model: null,
    upstream: null,
    route: '',
    status: RECOVERED_STATUS,
    errorCode: RECOVERED_ERROR_CODE,
    inputTokens: 0,
    outputTokens: 0,
    cachedTokens: 0,
    costUsd: r.amountUsd,
    latencyMs: Math.max(0, now - r.createdAt),
    stream: false,
    userAgent: null,
    ip: null,
    configRevision: '',
    usageSource: 'reserved',
  };
}

/**
 * The reservation does not carry server.timezone, but its daily period (`d:YYYY-MM-DD`) is the
 * local day it was made on; without one, the UTC day of its creation is the best we have.
 */
function dayOfReservation(r: ExpiredReservation): string {
  const daily = r.periods.find((p) => windowOfPeriod(p)?.name === 'daily');
  if (daily) return daily.slice(2);
  return new Date(r.createdAt).toISOString().slice(0, 10);
}
