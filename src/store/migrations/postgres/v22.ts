import type { Migration } from '../migration.js';

/**
 * Migration 22: usage_media_ts, the records that carry media units (images, audio seconds,
 * characters: docs/api.md#images-and-audio) by time, for the digest's media column
 * (src/slack/digest/build-digest.ts), which otherwise read every record of the day; SQLite's
 * migration 12 has the same index. Partial: the other records (all but a few) are not in it, so
 * a request without media writes nothing more. Queries name the same condition
 * (MEDIA_RECORDS in src/store/media-units.ts).
 *
 * Built CONCURRENTLY, outside the migration's transaction: a plain CREATE INDEX holds a SHARE lock
 * on usage while it reads the whole table, and every settle of every replica (old ones too,
 * during a rolling deploy) would wait for it. An index left invalid by a build that stopped half
 * way is dropped and built again when the migration runs again.
 */
export const MIGRATION_22: Migration = {
  version: 22,
  name: 'media records by time',
  sql: '',
  outsideTransaction: [
    'DROP INDEX CONCURRENTLY IF EXISTS usage_media_ts',
    `CREATE INDEX CONCURRENTLY usage_media_ts ON usage (ts)
        WHERE images IS NOT NULL OR audio_seconds IS NOT NULL OR characters IS NOT NULL`,
  ],
};
