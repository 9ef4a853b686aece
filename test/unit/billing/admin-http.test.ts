import { describe, expect, it } from 'vitest';
import { AdminApiError, getAdminJson } from '../../../src/billing/admin-http.js';

const SECRET = 'sk-admin-unit-secret-0123456789';

function fakeFetch(answers: Array<() => Response | Promise<Response>>) {
  const calls: string[] = [];
  const f = (async (url: string) => {
    calls.push(url);
    const next = answers.shift();
    if (!next) throw new Error('no more answers');
    return next();
  }) as unknown as typeof fetch;
  return { f, calls };
}

const jsonRes = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('getAdminJson', () => {
  it('retries 429 and 5xx with growing waits (Retry-After honoured), then answers', async () => {
    const waits: number[] = [];
    const { f, calls } = fakeFetch([
      () => jsonRes(429, {}, { 'retry-after': '3' }),
      () => jsonRes(503, {}),
      () => jsonRes(200, { data: [], has_more: false }),
    ]);
    const body = await getAdminJson('https://api.example.com/v1/x', {}, SECRET, {
      fetch: f,
      sleep: async (ms) => {
        waits.push(ms);
      },
      backoffMs: 100,
    });
    expect(body).toEqual({ data: [], has_more: false });
    expect(calls).toHaveLength(3);
    expect(waits).toEqual([3000, 200]);
  });

  it('gives up after a bounded number of attempts with a clear error', async () => {
    const { f, calls } = fakeFetch(
      Array.from({ length: 10 }, () => () => jsonRes(500, { error: { message: 'boom' } })),
    );
    const err = await getAdminJson('https://api.example.com/v1/x', {}, SECRET, {
      fetch: f,
      sleep: async () => {},
      attempts: 3,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminApiError);
    expect((err as AdminApiError).status).toBe(500);
    expect((err as Error).message).toBe('api.example.com/v1/x answered 500 — boom');
    expect(calls).toHaveLength(3);
  });

  it('does not retry a 401, and masks the admin key out of an error body that echoes it', async () => {
    const { f, calls } = fakeFetch([
      () => jsonRes(401, { error: { message: `invalid x-api-key ${SECRET}` } }),
    ]);
    const err = (await getAdminJson('https://api.example.com/v1/x', {}, SECRET, { fetch: f }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(calls).toHaveLength(1);
    expect(err.message).toContain('answered 401: the admin key was refused');
    expect(err.message).not.toContain(SECRET);
    expect(err.message).toContain('[redacted]');
  });

  it('reports a network failure after its retries without the key', async () => {
    const { f } = fakeFetch(
      Array.from({ length: 4 }, () => () => Promise.reject(new TypeError(`fetch failed ${SECRET}`))),
    );
    const err = (await getAdminJson('https://api.example.com/v1/x', {}, SECRET, {
      fetch: f,
      sleep: async () => {},
    }).catch((e: unknown) => e)) as AdminApiError;
    expect(err.status).toBe(0);
    expect(err.message).toMatch(/could not be reached after 4 attempt\(s\)/);
    expect(err.message).not.toContain(SECRET);
  });

  it('refuses a redirect at once instead of following it with the admin key', async () => {
    const inits: RequestInit[] = [];
    const f = (async (_url: string, init: RequestInit) => {
      inits.push(init);
      return new Response(null, { status: 307, headers: { location: 'https://elsewhere.example/steal' } });
    }) as unknown as typeof fetch;
    const err = await getAdminJson(
      'https://api.example.com/v1/x',
      { authorization: `Bearer ${SECRET}` },
      SECRET,
      {
        fetch: f,
        sleep: async () => {},
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminApiError);
    expect((err as AdminApiError).status).toBe(307);
    expect((err as AdminApiError).message).toContain('not followed');
    expect(inits).toHaveLength(1);
    expect(inits[0]?.redirect).toBe('manual');
  });
});
