import { describe, expect, it } from 'vitest';
import type { Metered } from '../../../../src/metering/meter.js';
import { exchangeOutcome } from '../../../../src/proxy/stages/exchange-outcome.js';

const metered: Metered = {
  usage: { inputTokens: 12, outputTokens: 34, cachedTokens: 0, cacheWriteTokens: 0 },
  usageSource: 'provider',
  costUsd: 0.0042,
};
const upstream = { name: 'openai', timeoutMs: 30_000 };

const refusedConnection = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
  code: 'ECONNREFUSED',
});

describe('the outcome of a forwarded exchange', () => {
  it('passes a completed success through with its metered usage, no error code and no detail', () => {
    const out = exchangeOutcome({ end: 'completed', upstreamStatus: 200 }, metered, upstream, 'ci');
    expect(out).toEqual({ status: 200, errorCode: null, ...metered });
    expect(out.error).toBeUndefined();
  });

  it("records an upstream's error answer under upstream_<status> and sends nothing of its own", () => {
    const out = exchangeOutcome({ end: 'completed', upstreamStatus: 429 }, metered, upstream, 'ci');
    expect(out.status).toBe(429);
    expect(out.errorCode).toBe('upstream_429');
    expect(out.error).toBeUndefined();
  });

  it('takes a completed exchange without a status for a bad gateway', () => {
    const out = exchangeOutcome({ end: 'completed' }, metered, upstream, 'ci');
    expect(out.status).toBe(502);
    expect(out.errorCode).toBe('upstream_502');
  });

  it('records a client that left as 499 client_closed_request, keeping what was metered', () => {
    const out = exchangeOutcome({ end: 'client_gone' }, metered, upstream, 'ci');
    expect(out).toEqual({
      status: 499,
      errorCode: 'client_closed_request',
      detail: 'client_gone',
      ...metered,
    });
  });

  it('answers an upstream that went quiet with 504 upstream_timeout naming its timeout_ms and the key', () => {
    const out = exchangeOutcome({ end: 'timeout', timedOut: 'idle' }, metered, upstream, 'ci');
    expect(out.status).toBe(504);
    expect(out.errorCode).toBe('upstream_timeout');
    expect(out.detail).toBe('timeout');
    expect(out.error?.code).toBe('upstream_timeout');
    expect(out.error?.message).toBe(
      "upstream 'openai' sent nothing for 30000 ms (its timeout_ms in keys.yaml); the request of key 'ci' was aborted.",
    );
  });

  it('answers an exchange past its total bound with the bound it passed', () => {
    const out = exchangeOutcome({ end: 'timeout', timedOut: 'total' }, metered, upstream, 'ci');
    expect(out.error?.message).toContain('did not finish within 330000 ms');
    expect(out.error?.message).toContain('timeout_ms of 30000');
  });

  it('answers an unreachable upstream with 502 upstream_error, its cause on the log line and in the message', () => {
    const out = exchangeOutcome(
      { end: 'upstream_failed', error: refusedConnection },
      metered,
      upstream,
      'ci',
    );
    expect(out.status).toBe(502);
    expect(out.errorCode).toBe('upstream_error');
    expect(out.detail).toBe('upstream_failed: ECONNREFUSED');
    expect(out.error?.code).toBe('upstream_error');
    expect(out.error?.message).toContain(
      "could not be reached or broke off (ECONNREFUSED); the request of key 'ci'",
    );
    expect(out.error?.cause).toBe(refusedConnection);
  });

  it('says the connection closed when an upstream broke off mid-body without an error', () => {
    const out = exchangeOutcome({ end: 'upstream_died' }, metered, upstream, 'ci');
    expect(out.status).toBe(502);
    expect(out.detail).toBe('upstream_died');
    expect(out.error?.message).toContain('(connection closed)');
  });
});
