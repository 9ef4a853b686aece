import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import { checkTokens, resolveSettings } from '../../../src/ops/settings.js';
import { parseSince, parseUntil } from '../../../src/ops/time-args.js';

const config = {
  server: { timezone: 'UTC', host: '0.0.0.0', port: 9000, store: 'sqlite:/var/lib/tollgate.db' },
} as Config;

describe('serve settings', () => {
  it('lets flags beat the environment and the environment beat the file', () => {
    expect(resolveSettings({}, {}, config)).toEqual({
      host: '0.0.0.0',
      port: 9000,
      store: 'sqlite:/var/lib/tollgate.db',
    });
    expect(resolveSettings({}, { PORT: '7000', TOLLGATE_STORE: 'postgres://db/x' }, config)).toEqual({
      host: '0.0.0.0',
      port: 7000,
      store: 'postgres://db/x',
    });
    expect(
      resolveSettings(
        { port: '6000', store: 'sqlite::memory:', host: '127.0.0.1' },
        { PORT: '7000' },
        config,
      ),
    ).toEqual({
      host: '127.0.0.1',
      port: 6000,
      store: 'sqlite::memory:',
    });
  });

  it('falls back to 127.0.0.1:8080 and the embedded SQLite store', () => {
    expect(resolveSettings({}, {}, { server: { timezone: 'UTC' } } as Config)).toEqual({
      host: '127.0.0.1',
      port: 8080,
      store: 'sqlite:data/tollgate.db',
    });
  });

  it('refuses a port that is not a number', () => {
    expect(() => resolveSettings({ port: 'eighty' }, {}, config)).toThrow(/not a TCP port/);
  });
});

describe('time arguments', () => {
  const now = Date.parse('2026-11-26T12:00:00Z');
  it('reads relative durations, local dates and ISO times', () => {
    expect(parseSince('7d', now, 'UTC')).toBe(now - 7 * 86_400_000);
    expect(parseSince('24h', now, 'UTC')).toBe(now - 86_400_000);
    expect(parseSince('2026-11-01', now, 'Europe/Berlin')).toBe(Date.parse('2026-10-31T23:00:00Z'));
    expect(parseUntil('2026-11-01', 'UTC')).toBe(Date.parse('2026-11-02T00:00:00Z'));
    expect(parseSince('2026-11-20T10:00:00Z', now, 'UTC')).toBe(Date.parse('2026-11-20T10:00:00Z'));
  });

  it('explains a value it cannot read', () => {
    expect(() => parseSince('last week', now, 'UTC')).toThrow(/not a duration like 7d/);
    expect(() => parseUntil('7d', 'UTC')).toThrow(
      "--until '7d' is not a date like 2026-11-01 or an ISO time.",
    );
  });

  it('refuses dates that match the pattern but are not days', () => {
    expect(() => parseSince('2026-13-01', now, 'UTC')).toThrow(
      "--since '2026-13-01' is not a calendar date.",
    );
    expect(() => parseSince('2026-02-30', now, 'UTC')).toThrow(/not a calendar date/);
    expect(() => parseUntil('2026-11-32', 'UTC')).toThrow(/not a calendar date/);
  });
});

describe('checkTokens', () => {
  it.each(['TOLLGATE_ADMIN_TOKEN', 'TOLLGATE_DASHBOARD_TOKEN'])(
    'refuses a %s shorter than 32 characters in one sentence',
    (name) => {
      expect(() => checkTokens({ [name]: 'x' })).toThrow(
        `${name} is 1 character long; it must be at least 32 (generate one with 'openssl rand -hex 32').`,
      );
      expect(() => checkTokens({ [name]: 'a'.repeat(31) })).toThrow(/is 31 characters long/);
    },
  );

  it('accepts 32 characters or more, and an unset or empty token (that surface stays off)', () => {
    expect(() =>
      checkTokens({ TOLLGATE_ADMIN_TOKEN: 'a'.repeat(32), TOLLGATE_DASHBOARD_TOKEN: 'b'.repeat(64) }),
    ).not.toThrow();
    expect(() => checkTokens({ TOLLGATE_ADMIN_TOKEN: '' })).not.toThrow();
    expect(() => checkTokens({})).not.toThrow();
  });
});
