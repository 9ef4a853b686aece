import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/commands/io.js';
import { usage } from '../../src/commands/usage.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { UsageRecord } from '../../src/store/types.js';

/** `tollgate usage` shows what image and audio requests were: images, audio seconds, characters. */

let dir = '';

const record = (over: Partial<UsageRecord>): UsageRecord => ({
  requestId: Math.random().toString(36).slice(2),
  ts: Date.now() - 3_600_000,
  day: new Date(Date.now() - 3_600_000).toISOString().slice(0, 10),
  key: 'open-webui',
  model: 'gpt-image-1',
  upstream: 'openai',
  route: '/v1/images/generations',
  status: 200,
  errorCode: null,
  inputTokens: 50,
  outputTokens: 4160,
  cachedTokens: 0,
  costUsd: 0.16665,
  latencyMs: 5,
  stream: false,
  userAgent: null,
  ip: null,
  configRevision: 'abc',
  usageSource: 'provider',
  ...over,
});

function run(args: string[], db = 'usage.db') {
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
  const base = ['--store', `sqlite:${join(dir, db)}`, '--config', join(dir, 'keys.yaml')];
  return usage([...base, ...args], io as CliIO).then((code) => ({ code, ...io }));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tollgate-usage-media-'));
  const store = createSqliteStore(join(dir, 'usage.db'));
  await store.init();
  await store.settle(record({ images: 2 }), []);
  await store.settle(
    record({ model: 'whisper-1', route: '/v1/audio/transcriptions', audioSeconds: 90, costUsd: 0.009 }),
    [],
  );
  await store.settle(
    record({ model: 'tts-1', route: '/v1/audio/speech', characters: 1200, costUsd: 0.018 }),
    [],
  );
  await store.close();
  const tokens = createSqliteStore(join(dir, 'tokens.db'));
  await tokens.init();
  await tokens.settle(record({ key: 'cursor', model: 'gpt-4o-mini', route: '/v1/chat/completions' }), []);
  await tokens.close();
  await writeFile(join(dir, 'keys.yaml'), 'version: 1\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tollgate usage with image and audio requests', () => {
  it('adds images, audio seconds and characters to the table, the CSV and the JSON', async () => {
    const json = await run(['--by', 'model', '--format', 'json']);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.out) as Array<Record<string, unknown>>;
    expect(rows.find((r) => r.model === 'gpt-image-1')).toMatchObject({
      images: 2,
      audio_seconds: 0,
      characters: 0,
    });
    expect(rows.find((r) => r.model === 'whisper-1')).toMatchObject({ audio_seconds: 90 });
    expect(rows.find((r) => r.model === 'tts-1')).toMatchObject({ characters: 1200 });

    const csv = await run(['--format', 'csv']);
    expect(csv.out.split('\n')[0]).toBe(
      'key,requests,errors,input_tokens,output_tokens,cost_usd,images,audio_seconds,characters',
    );
    expect(csv.out.split('\n')[1]).toMatch(/^open-webui,3,0,.*,2,90\.0,1200$/);

    const table = await run(['--by', 'model']);
    expect(table.out.split('\n')[0]).toMatch(/model .*cost_usd +images +audio_seconds +characters$/);
  });

  it('keeps images, audio seconds and characters in the JSON of a period without media, as zeros', async () => {
    const json = await run(['--format', 'json'], 'tokens.db');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toEqual([
      expect.objectContaining({ key: 'cursor', images: 0, audio_seconds: 0, characters: 0 }),
    ]);
    // The table and the CSV keep to the token columns.
    const csv = await run(['--format', 'csv'], 'tokens.db');
    expect(csv.out.split('\n')[0]).toBe('key,requests,errors,input_tokens,output_tokens,cost_usd');
  });
});
