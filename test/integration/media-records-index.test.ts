import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDigest } from '../../src/slack/digest/build-digest.js';
import { MEDIA_RECORDS } from '../../src/store/media-units.js';
import type { Store, UsageRecord, UsageRow } from '../../src/store/types.js';
import { dayRange } from '../../src/windows/bounds.js';
import { zonedTime } from '../../src/windows/calendar.js';
import { makeConfig, makeKey, makeRecord } from '../helpers/digest-fixtures.js';
import { storeBackends } from '../helpers/store-backends.js';

/**
 * The digest's media column reads only the records with media units (queryUsage's `media`), from
 * their own partial index (SQLite migration 12, PostgreSQL migration 22): each key's units are
 * those of the read of every record, keys without any are left out, and on SQLite the read uses
 * the index (its condition must be named as the index names it).
 */

const TZ = 'Europe/Berlin';
const at = (hour: number) => zonedTime(2026, 12, 5, TZ, hour, 0);

const records: UsageRecord[] = [
  makeRecord(at(9), 'studio', { model: 'gpt-image-1', images: 3, costUsd: 0.5 }),
  makeRecord(at(10), 'studio', { model: 'whisper-1', audioSeconds: 90.5, costUsd: 0.009 }),
  makeRecord(at(11), 'studio', { model: 'tts-1', characters: 1200, costUsd: 0.018 }),
  makeRecord(at(12), 'studio', { costUsd: 0.2 }),
  makeRecord(at(13), 'voice', { model: 'whisper-1', audioSeconds: 12.25, costUsd: 0.001 }),
  makeRecord(at(14), 'voice', { model: 'whisper-1', audioSeconds: 0.5, costUsd: 0.001 }),
  makeRecord(at(8), 'coder', { costUsd: 0.2 }),
  makeRecord(at(15), 'coder', { costUsd: 0.3 }),
  // The day before and the day after: outside the period.
  makeRecord(at(9) - 86_400_000, 'coder', { model: 'gpt-image-1', images: 9, costUsd: 1 }),
  makeRecord(at(9) + 86_400_000, 'voice', { model: 'tts-1', characters: 50, costUsd: 0.01 }),
].map((r, i) => ({ ...r, requestId: `media-${i}` }));

const units = (rows: UsageRow[]) =>
  Object.fromEntries(
    rows
      .filter((r) => r.images || r.audio_seconds || r.characters)
      .map((r) => [r.key, { images: r.images, audio_seconds: r.audio_seconds, characters: r.characters }]),
  );

describe.each(storeBackends())('the media records of a day', (backend) => {
  let store: Store;

  beforeAll(async () => {
    store = await backend.create();
    for (const r of records) await store.settle(r, []);
  }, 60_000);
  afterAll(async () => {
    await backend.destroy();
  });

  it(`${backend.name}: give each key the units of the read of every record, and only keys with some`, async () => {
    const { start, end } = dayRange('2026-12-05', TZ);
    const every = await store.queryUsage({ since: start, until: end, by: 'key' }, TZ);
    const media = await store.queryUsage({ since: start, until: end, by: 'key', media: true }, TZ);
    expect(units(media)).toEqual(units(every));
    expect(units(media)).toEqual({
      studio: { images: 3, audio_seconds: 90.5, characters: 1200 },
      voice: { audio_seconds: 12.75 },
    });
    expect(media.map((r) => r.key).sort()).toEqual(['studio', 'voice']);
    const d = await buildDigest({
      store,
      config: makeConfig([makeKey('studio'), makeKey('voice'), makeKey('coder')]),
      revision: 'r',
      day: '2026-12-05',
      now: at(12) + 86_400_000,
    });
    expect(Object.fromEntries(d.keys.map((k) => [k.key, k.media]))).toEqual({
      studio: { images: 3, audioSeconds: 90.5, characters: 1200 },
      voice: { images: 0, audioSeconds: 12.75, characters: 0 },
      coder: undefined,
    });
  });
});

describe('the media records on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-media-index-'));
  const path = join(dir, 'tollgate.db');

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are read from their partial index, not from every record of the period', async () => {
    const { createSqliteStore } = await import('../../src/store/sqlite.js');
    const store = createSqliteStore(path);
    await store.init();
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT key FROM usage WHERE ts >= ? AND ts < ? AND (${MEDIA_RECORDS}) GROUP BY key`,
        )
        .all(0, 1) as { detail: string }[];
      expect(plan.map((p) => p.detail).join(' | ')).toContain('USING INDEX usage_media_ts');
    } finally {
      db.close();
    }
  });
});
