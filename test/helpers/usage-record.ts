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

/**
 * A record with every field set, each to a value no other field has: a field read into the wrong
 * column shows. Required<…>: a field added to UsageRecord fails to compile here until it is set.
 */
export const fullUsageRecord: Required<UsageRecord> = {
  requestId: 'r1',
  ts: 1_764_000_000_000,
  day: '2026-11-26',
  key: 'codex',
  model: 'gpt-5',
  upstream: 'openai',
  route: '/v1/chat/completions',
  status: 200,
  errorCode: 'upstream_timeout',
  inputTokens: 1200,
  outputTokens: 300,
  cachedTokens: 1000,
  cacheWriteTokens: 50,
  costUsd: 0.0123,
  latencyMs: 812,
  stream: true,
  userAgent: 'codex/1.0',
  ip: '10.0.0.1',
  configRevision: 'abc123',
  usageSource: 'provider',
  requestedModel: 'gpt-5-latest',
  keyHash: '0123456789ab',
  requestFp: '0123456789abcdef0123456789abcdef',
  prefixFp: 'fedcba9876543210fedcba9876543210',
  prefixTokens: 2048,
  outputLimit: 4096,
  images: 2,
  audioSeconds: 61.5,
  characters: 1234,
};
