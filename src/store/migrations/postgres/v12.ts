import type { Migration } from '../migration.js';

/**
 * Migration 12: what an image or audio request was, beside its tokens (docs/api.md#images-and-audio):
 * images generated, seconds of audio transcribed, characters spoken. NULL on every other request.
 * Written by an UPDATE after the settle of the few requests that have them (postgres.ts), so the
 * settle functions, and replicas still running the code before them, are unchanged.
 */
export const MIGRATION_12: Migration = {
  version: 12,
  name: 'usage units: images, audio seconds, characters',
  sql: `
      ALTER TABLE usage ADD COLUMN images integer;
      ALTER TABLE usage ADD COLUMN audio_seconds double precision;
      ALTER TABLE usage ADD COLUMN characters integer;
    `,
};
