import { describe, expect, it } from 'vitest';
import { buildModel } from '../../../src/config/load/model-prices.js';
import type { Config, KeyConfig, LoadedConfig, ModelConfig } from '../../../src/config/types.js';
import { GatewayError } from '../../../src/errors.js';
import { hashKey, mintKey } from '../../../src/keys/format.js';
import { authenticate, extractKey } from '../../../src/policy/authenticate.js';
import { moneyShowingOverflow, planBudget } from '../../../src/policy/budget.js';
import { checkKeyUsable } from '../../../src/policy/key-usable.js';
import { isModelAllowed, resolveModel } from '../../../src/policy/model-access.js';
import { planOutput } from '../../../src/policy/output-cap.js';
import { periodEnd } from '../../../src/windows/budget-windows.js';
import { zonedTime } from '../../../src/windows/calendar.js';
import { createLocalDayCache } from '../../../src/windows/local-day.js';

const key = (over: Partial<KeyConfig> = {}): KeyConfig => ({
  name: 'k',
  hashes: [],
  notify: [],
  limits: {},
  disabled: false,
  tags: {},
  ...over,
});

const model: ModelConfig = buildModel(
  'gpt-4o-mini',
  {
    upstream: 'openai',
    input_per_mtok: 0.15,
    output_per_mtok: 0.6,
    cached_input_per_mtok: 0.075,
    max_output_tokens: 16384,
  },
  undefined,
  undefined,
  0,
);

const config = {
  version: 1,
  server: { timezone: 'UTC' },
  upstreams: {
    openai: {
      name: 'openai',
      baseUrl: 'http://x/v1',
      apiKeyEnv: 'OPENAI_API_KEY',
      timeoutMs: 1000,
      format: 'openai',
    },
  },
  models: { 'gpt-4o-mini': model },
  defaults: { limits: {} },
  keys: {},
} as Config;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof GatewayError ? e.code : 'not a GatewayError';
  }
  return undefined;
}

describe('authentication', () => {
  const plaintext = mintKey();
  const k = key({ hashes: [hashKey(plaintext)] });
  const loaded = {
    config,
    revision: 'r',
    loadedAt: 0,
    keysByHash: new Map([[hashKey(plaintext), k]]),
  } as LoadedConfig;

  it('takes the key from a Bearer header or from x-api-key', () => {
    expect(extractKey({ authorization: `Bearer ${plaintext}` })).toBe(plaintext);
    expect(extractKey({ 'x-api-key': plaintext })).toBe(plaintext);
    expect(authenticate({ 'x-api-key': plaintext }, loaded)).toBe(k);
  });

  it('refuses a key whose checksum does not match before looking it up', () => {
    const last = plaintext.at(-1) === 'A' ? 'B' : 'A';
    expect(
      codeOf(() => authenticate({ authorization: `Bearer ${plaintext.slice(0, -1)}${last}` }, loaded)),
    ).toBe('invalid_api_key');
  });
});

describe('key state', () => {
  it('reports a file disable before a Slack disable, and expiry from the first instant after the expiry day', () => {
    const override = { key: 'k', reason: 'r', by: 'U1', source: 'slack' as const, at: 0 };
    expect(codeOf(() => checkKeyUsable(key({ disabled: true }), override, 0, 'UTC'))).toBe('key_disabled');
    const end = zonedTime(2026, 3, 2, 'UTC');
    const k = key({ expires: '2026-03-01', expiresAt: end });
    expect(codeOf(() => checkKeyUsable(k, undefined, end - 1, 'UTC'))).toBeUndefined();
    expect(codeOf(() => checkKeyUsable(k, undefined, end, 'UTC'))).toBe('key_expired');
  });
});

describe('model access', () => {
  it('matches allow-list globs with * and ? only', () => {
    const k = (models: string[]) => key({ models });
    expect(isModelAllowed(k(['claude-*']), 'claude-sonnet-4-5')).toBe(true);
    expect(isModelAllowed(k(['gpt-4?']), 'gpt-4o')).toBe(true);
    expect(isModelAllowed(k(['gpt-4?']), 'gpt-4o-mini')).toBe(false);
    expect(isModelAllowed(k(['gpt-4.']), 'gpt-4o')).toBe(false);
    expect(isModelAllowed(key(), 'anything')).toBe(true);
  });

  it('refuses in order: no model, unknown model, not allowed, upstream key unset', () => {
    const env = { OPENAI_API_KEY: 'sk' };
    expect(codeOf(() => resolveModel(undefined, config, key(), env))).toBe('invalid_request');
    expect(codeOf(() => resolveModel('nope', config, key({ models: ['x'] }), env))).toBe('model_not_found');
    expect(codeOf(() => resolveModel('gpt-4o-mini', config, key({ models: ['claude-*'] }), {}))).toBe(
      'model_not_allowed',
    );
    expect(codeOf(() => resolveModel('gpt-4o-mini', config, key(), {}))).toBe('upstream_not_configured');
    expect(resolveModel('gpt-4o-mini', config, key(), env).upstreamKey).toBe('sk');
  });
});

describe('output cap', () => {
  it("reserves the request's own cap, else the model's or the key's cap, and writes a bound the request lacks into it", () => {
    expect(planOutput({ max_tokens: 50 }, 'max_tokens', model, key())).toEqual({ maxOutputTokens: 50 });
    expect(planOutput({}, 'max_tokens', model, key())).toEqual({
      maxOutputTokens: 16384,
      inject: { fields: ['max_tokens'], value: 16384 },
      capped: true,
      gatewayChosen: true,
    });
    expect(planOutput({}, 'max_completion_tokens', model, key({ limits: { maxOutputTokens: 100 } }))).toEqual(
      {
        maxOutputTokens: 100,
        inject: { fields: ['max_completion_tokens'], value: 100 },
        capped: true,
        gatewayChosen: true,
      },
    );
    expect(planOutput({ input: 'x' }, undefined, model, key())).toEqual({ maxOutputTokens: 0 });
  });

  it("ignores a cap in a field the route's upstream does not honour and writes the route's own", () => {
    // max_output_tokens is the Responses API's field: a chat upstream ignores it and writes on.
    expect(planOutput({ max_output_tokens: 1 }, 'max_completion_tokens', model, key())).toEqual({
      maxOutputTokens: 16384,
      inject: { fields: ['max_completion_tokens'], value: 16384 },
      capped: true,
      gatewayChosen: true,
    });
    expect(planOutput({ max_tokens: 1 }, 'max_output_tokens', model, key()).maxOutputTokens).toBe(16384);
    // Chat completions honour the legacy max_tokens beside max_completion_tokens.
    expect(planOutput({ max_tokens: 70 }, 'max_completion_tokens', model, key())).toEqual({
      maxOutputTokens: 70,
    });
    expect(
      planOutput(
        { max_tokens: 500, max_output_tokens: 1 },
        'max_completion_tokens',
        model,
        key({ limits: { maxOutputTokens: 100 } }),
      ),
    ).toEqual({
      maxOutputTokens: 100,
      inject: { fields: ['max_tokens'], value: 100 },
      capped: true,
      lowered: true,
    });
  });

  it('writes no bound into a request for a model whose output is free', () => {
    const local = { ...model, outputPerMtok: 0 };
    expect(planOutput({}, 'max_tokens', local, key())).toEqual({ maxOutputTokens: 16384 });
  });

  it('reserves the cap once per requested choice (n, best_of)', () => {
    expect(planOutput({ max_tokens: 50, n: 3 }, 'max_tokens', model, key()).maxOutputTokens).toBe(150);
    expect(
      planOutput({ best_of: 2 }, 'max_tokens', model, key({ limits: { maxOutputTokens: 10 } }))
        .maxOutputTokens,
    ).toBe(20);
  });

  it("lowers a request asking for more than the key's cap to the cap, in every field it set", () => {
    const capped = key({ limits: { maxOutputTokens: 100 } });
    expect(planOutput({ max_tokens: 101 }, 'max_tokens', model, capped)).toEqual({
      maxOutputTokens: 100,
      inject: { fields: ['max_tokens'], value: 100 },
      capped: true,
      lowered: true,
    });
    expect(
      planOutput({ max_tokens: 500, max_completion_tokens: 90 }, 'max_completion_tokens', model, capped),
    ).toEqual({
      maxOutputTokens: 100,
      inject: { fields: ['max_tokens'], value: 100 },
      capped: true,
      lowered: true,
    });
    expect(planOutput({ max_tokens: 100 }, 'max_tokens', model, capped)).toEqual({ maxOutputTokens: 100 });
  });
});

describe('budget windows', () => {
  it('charges every request to its local day, week and month, and limits only the windows with a limit', () => {
    const at = zonedTime(2026, 11, 30, 'Europe/Berlin', 23, 30);
    const plan = planBudget(key({ limits: { dailyUsd: 5 } }), createLocalDayCache()(at, 'Europe/Berlin'));
    expect(plan.periods).toEqual(['d:2026-11-30', 'w:2026-11-30', 'm:2026-11']);
    expect(plan.windows).toEqual([{ period: 'd:2026-11-30', limitUsd: 5 }]);
    expect(periodEnd('d:2026-11-30', 'Europe/Berlin')).toBe(zonedTime(2026, 12, 1, 'Europe/Berlin'));
    expect(periodEnd('m:2026-12', 'Europe/Berlin')).toBe(zonedTime(2027, 1, 1, 'Europe/Berlin'));
    expect(periodEnd('w:2026-11-30', 'Europe/Berlin')).toBe(zonedTime(2026, 12, 7, 'Europe/Berlin'));
  });

  it("also charges the key's group under @group entries and limits the group's windows", () => {
    const at = zonedTime(2026, 11, 30, 'Asia/Kolkata', 23, 30);
    const group = { name: 'backend', limits: { hourlyUsd: 2, weeklyUsd: 50 } };
    const plan = planBudget(
      key({ limits: { hourlyUsd: 1 }, group: 'backend' }),
      createLocalDayCache()(at, 'Asia/Kolkata'),
      group,
    );
    expect(plan.periods).toEqual([
      'h:2026-11-30T23+05:30',
      'd:2026-11-30',
      'w:2026-11-30',
      'm:2026-11',
      '@backend/h:2026-11-30T23+05:30',
      '@backend/d:2026-11-30',
      '@backend/w:2026-11-30',
      '@backend/m:2026-11',
    ]);
    expect(plan.windows).toEqual([
      { period: 'h:2026-11-30T23+05:30', limitUsd: 1 },
      { period: '@backend/h:2026-11-30T23+05:30', limitUsd: 2 },
      { period: '@backend/w:2026-11-30', limitUsd: 50 },
    ]);
  });
});

describe('budget refusal amounts', () => {
  it('keeps two decimals when they already show the overflow, and adds digits when they do not', () => {
    const a = moneyShowingOverflow(4.98, 0, 0.06, 5);
    expect([a(4.98), a(5), a(0.06)]).toEqual(['$4.98', '$5.00', '$0.06']);
    const b = moneyShowingOverflow(0, 0, 0.012, 0.01);
    expect([b(0), b(0.01), b(0.012)]).toEqual(['$0.000', '$0.010', '$0.012']);
    const c = moneyShowingOverflow(0, 0, 0.0098, 0.0001);
    expect([c(0), c(0.0001), c(0.0098)]).toEqual(['$0.0000', '$0.0001', '$0.0098']);
  });
});
