import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/commands/io.js';
import { usage } from '../../src/commands/usage.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { UsageRecord } from '../../src/store/types.js';

let dir = '';
let storeUrl = '';

function record(over: Partial<UsageRecord>): UsageRecord {
  return {
    requestId: Math.random().toString(36).slice(2),
    ts: Date.now() - 3_600_000,
    day: new Date(Date.now() - 3_600_000).toISOString().slice(0, 10),
    key: 'cursor-dev',
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 100,
    outputTokens: 10,
    cachedTokens: 0,
    costUsd: 0.001,
    latencyMs: 5,
    stream: false,
    userAgent: null,
    ip: null,
    configRevision: 'abc',
    usageSource: 'provider',
    ...over,
  };
}

function fakeIO(): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
    readStdin: async () => '',
    env: {},
    cwd: dir,
  };
  return io;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tollgate-usage-'));
  storeUrl = `sqlite:${join(dir, 'usage.db')}`;
  const store = createSqliteStore(join(dir, 'usage.db'));
  await store.init();
  await store.settle(record({}), []);
  await store.settle(record({ costUsd: 0.002 }), []);
  await store.settle(
    record({ key: 'open-webui-team', model: 'claude-sonnet-4-5', costUsd: 0.5, outputTokens: 1000 }),
    [],
  );
  await store.settle(
    record({
      key: 'open-webui-team',
      status: 429,
      errorCode: 'insufficient_quota',
      costUsd: 0,
      inputTokens: 0,
      outputTokens: 0,
    }),
    [],
  );
  await store.settle(record({ ts: Date.now() - 30 * 86_400_000, day: '2000-01-01', costUsd: 9 }), []);
  await store.close();
  await writeFile(join(dir, 'keys.yaml'), 'version: 1\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tollgate usage', () => {
  it('prints one JSON row per key with requests, errors, tokens and cost over the last 7 days', async () => {
    const io = fakeIO();
    expect(
      await usage(['--store', storeUrl, '--config', join(dir, 'keys.yaml'), '--format', 'json'], io),
    ).toBe(0);
    const rows = JSON.parse(io.out) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      {
        key: 'open-webui-team',
        requests: 2,
        errors: 1,
        input_tokens: 100,
        output_tokens: 1000,
        cost_usd: 0.5,
        images: 0,
        audio_seconds: 0,
        characters: 0,
      },
      {
        key: 'cursor-dev',
        requests: 2,
        errors: 0,
        input_tokens: 200,
        output_tokens: 20,
        cost_usd: expect.closeTo(0.003, 12),
        images: 0,
        audio_seconds: 0,
        characters: 0,
      },
    ]);
  });

  it('groups by model and filters by key', async () => {
    const io = fakeIO();
    await usage(
      [
        '--store',
        storeUrl,
        '--config',
        join(dir, 'keys.yaml'),
        '--format',
        'json',
        '--by',
        'model',
        '--key',
        'open-webui-team',
      ],
      io,
    );
    const rows = JSON.parse(io.out) as Array<{ model: string; requests: number }>;
    expect(rows.map((r) => [r.model, r.requests])).toEqual([
      ['claude-sonnet-4-5', 1],
      ['gpt-4o-mini', 1],
    ]);
  });

  it('folds the keys into the groups the config puts them in with --by group', async () => {
    const file = join(dir, 'groups.yaml');
    await writeFile(
      file,
      `version: 1\ngroups:\n  frontend: {}\nkeys:\n  cursor-dev:\n    hash: sha256:${'a'.repeat(64)}\n    group: frontend\n  other:\n    hash: sha256:${'b'.repeat(64)}\n    group: frontend\n`,
    );
    const io = fakeIO();
    expect(
      await usage(['--store', storeUrl, '--config', file, '--format', 'json', '--by', 'group'], io),
    ).toBe(0);
    expect(JSON.parse(io.out)).toEqual([
      {
        group: '',
        requests: 2,
        errors: 1,
        input_tokens: 100,
        output_tokens: 1000,
        cost_usd: 0.5,
        images: 0,
        audio_seconds: 0,
        characters: 0,
      },
      {
        group: 'frontend',
        requests: 2,
        errors: 0,
        input_tokens: 200,
        output_tokens: 20,
        cost_usd: expect.closeTo(0.003, 12),
        images: 0,
        audio_seconds: 0,
        characters: 0,
      },
    ]);
    const table = fakeIO();
    await usage(['--store', storeUrl, '--config', file, '--by', 'group'], table);
    expect(table.out).toMatch(/^group +requests/);
    expect(table.out).toMatch(/\n\(no group\) +2 +1 +100 +1000 +0\.500000\n/);
  });

  it('writes CSV with a header and a table with a total', async () => {
    const csv = fakeIO();
    await usage(
      ['--store', storeUrl, '--config', join(dir, 'keys.yaml'), '--format', 'csv', '--by', 'status'],
      csv,
    );
    expect(csv.out.split('\n')[0]).toBe('status,requests,errors,input_tokens,output_tokens,cost_usd');
    expect(csv.out).toContain('429,1,1,0,0,0.000000');
    const table = fakeIO();
    await usage(['--store', storeUrl, '--config', join(dir, 'keys.yaml'), '--since', '2000-01-01'], table);
    expect(table.out).toContain('Total: $9.5030 over 5 requests');
  });

  it('shows each key hash prefix with its requests and when it was last used, with --by hash', async () => {
    const file = join(dir, 'rotation.db');
    const store = createSqliteStore(file);
    await store.init();
    const old = Date.now() - 5 * 86_400_000;
    const recent = Date.now() - 60_000;
    await store.settle(record({ key: 'ci', keyHash: '3b1f2c4d5e6f', ts: old }), []);
    await store.settle(record({ key: 'ci', keyHash: '3b1f2c4d5e6f', ts: old + 1000 }), []);
    await store.settle(record({ key: 'ci', keyHash: 'aa00bb11cc22', ts: recent }), []);
    await store.close();
    const args = ['--store', `sqlite:${file}`, '--config', join(dir, 'keys.yaml'), '--by', 'hash'];
    const json = fakeIO();
    expect(await usage([...args, '--format', 'json'], json)).toBe(0);
    expect(JSON.parse(json.out)).toEqual([
      expect.objectContaining({
        key: 'ci',
        hash: 'aa00bb11cc22',
        requests: 1,
        last_used: new Date(recent).toISOString(),
      }),
      expect.objectContaining({
        key: 'ci',
        hash: '3b1f2c4d5e6f',
        requests: 2,
        last_used: new Date(old + 1000).toISOString(),
      }),
    ]);
    const table = fakeIO();
    expect(await usage(args, table)).toBe(0);
    const lines = table.out.split('\n');
    expect(lines[0]).toMatch(
      /^key\s+hash\s+requests\s+errors\s+input_tokens\s+output_tokens\s+cost_usd\s+last_used$/,
    );
    expect(lines[1]).toMatch(/^ci\s+aa00bb11cc22\s+1\s/);
    expect(lines[2]).toContain(new Date(old + 1000).toISOString());
  });

  it('refuses an unknown grouping or format with one sentence and exit 1', async () => {
    const io = fakeIO();
    expect(await usage(['--store', storeUrl, '--by', 'colour'], io)).toBe(1);
    expect(io.err).toBe(
      "tollgate usage: --by must be one of key, model, day, status, group, hash; got 'colour'.\n",
    );
    const bad = fakeIO();
    expect(await usage(['--store', storeUrl, '--since', 'yesterday-ish'], bad)).toBe(1);
    expect(bad.err).toContain('is not a duration like 7d');
  });

  it('says clearly when the store cannot be opened', async () => {
    const io = fakeIO();
    expect(await usage(['--store', 'mysql://nope', '--config', join(dir, 'keys.yaml')], io)).toBe(1);
    expect(io.err).toMatch(/^tollgate usage: cannot open the store/);
  });

  it('refuses a store file that does not exist instead of reporting an empty one', async () => {
    const io = fakeIO();
    const typo = join(dir, 'typo.db');
    expect(await usage(['--store', `sqlite:${typo}`, '--config', join(dir, 'keys.yaml')], io)).toBe(1);
    expect(io.err).toContain(`there is no SQLite store at ${typo}`);
    expect(existsSync(typo)).toBe(false);
  });

  it('says a missing config file is missing', async () => {
    const io = fakeIO();
    expect(await usage(['--store', storeUrl, '--config', join(dir, 'nope.yaml')], io)).toBe(1);
    expect(io.err).toContain('does not exist');
  });
});
