import type { Migration } from '../migration.js';

/**
 * Migration 12: usage_media_ts, the records that carry media units (images, audio seconds,
 * characters: docs/api.md#images-and-audio) by time, for the digest's media column
 * (src/slack/digest/build-digest.ts), which otherwise read every record of the day. Partial: the
 * other records (all but a few) are not in it, so a request without media writes nothing more.
 * Queries must name the same condition, text for text, for SQLite to use it
 * (MEDIA_RECORDS in src/store/media-units.ts).
 */
export const MIGRATION_12: Migration = {
  version: 12,
  name: 'media records by time',
  sql: `
      CREATE INDEX IF NOT EXISTS usage_media_ts ON usage (ts)
        WHERE images IS NOT NULL OR audio_seconds IS NOT NULL OR characters IS NOT NULL;
    `,
};
