import type { UsageRecord } from '../../src/store/types.js';

/**
 * A usage record of one chat request for the store tests: key 'alpha', a provider-reported cost,
 * ten tokens in and out; `fields` sets what a test cares about (requestId, costUsd, key, ts…).
 */
export function usageRecord(
  fields: Partial<UsageRecord> & Pick<UsageRecord, 'requestId' | 'costUsd'>,
): UsageRecord {
  return {
    ts: Date.UTC(2026, 10, 26, 12),
    day: '2026-11-26',
    key: 'alpha',
    model: 'm',
    upstream: 'u',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 10,
    outputTokens: 10,
    cachedTokens: 0,
    latencyMs: 1,
    stream: false,
    userAgent: null,
    ip: null,
    configRevision: 'r',
    usageSource: 'provider',
    ...fields,
  };
}
