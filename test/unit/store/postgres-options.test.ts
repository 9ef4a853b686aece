import { describe, expect, it } from 'vitest';
import { redactUrl, resolvePostgresOptions } from '../../../src/store/postgres/options.js';

describe('postgres store options', () => {
  it('uses the defaults when nothing is set', () => {
    const o = resolvePostgresOptions('postgres://u@db:5432/tollgate', {}, {});
    expect(o).toMatchObject({
      poolSize: 10,
      statementTimeoutMs: 5000,
      disablePollMs: 0,
      connectionTimeoutMs: 2000,
    });
    expect(o.connectionString).toBe('postgres://u@db:5432/tollgate');
  });

  it('reads pool size and statement timeout from the URL and strips them before pg sees the URL', () => {
    const o = resolvePostgresOptions(
      'postgres://u@db:5432/tollgate?pool_size=3&statement_timeout_ms=750&sslmode=require',
      {},
      {},
    );
    expect(o.poolSize).toBe(3);
    expect(o.statementTimeoutMs).toBe(750);
    expect(o.connectionString).toBe('postgres://u@db:5432/tollgate?sslmode=require');
  });

  it('falls back to the environment, and lets the URL and then explicit options win', () => {
    const env = { TOLLGATE_PG_POOL_SIZE: '7', TOLLGATE_PG_STATEMENT_TIMEOUT_MS: '900' };
    expect(resolvePostgresOptions('postgres://db/x', {}, env)).toMatchObject({
      poolSize: 7,
      statementTimeoutMs: 900,
    });
    expect(resolvePostgresOptions('postgres://db/x?pool_size=2', {}, env).poolSize).toBe(2);
    expect(resolvePostgresOptions('postgres://db/x?pool_size=2', { poolSize: 1 }, env).poolSize).toBe(1);
  });

  it('refuses a setting that is not a positive integer, naming where it came from', () => {
    expect(() => resolvePostgresOptions('postgres://db/x?pool_size=0', {}, {})).toThrow(/pool_size/);
    expect(() =>
      resolvePostgresOptions('postgres://db/x', {}, { TOLLGATE_PG_STATEMENT_TIMEOUT_MS: 'soon' }),
    ).toThrow(/TOLLGATE_PG_STATEMENT_TIMEOUT_MS/);
  });

  it('drops the password and query from a URL shown in logs', () => {
    expect(redactUrl('postgres://u:secret@db:5432/x?pool_size=3')).toBe('postgres://u@db:5432/x');
  });
});
