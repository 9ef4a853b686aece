import type { Migration } from '../migration.js';

/**
 * Migration 8: what an image or audio request was, beside its tokens (docs/api.md#images-and-audio):
 * images generated, seconds of audio transcribed, characters spoken. NULL on every other request.
 */
export const MIGRATION_8: Migration = {
  version: 8,
  name: 'usage units: images, audio seconds, characters',
  sql: `
      ALTER TABLE usage ADD COLUMN images INTEGER;
      ALTER TABLE usage ADD COLUMN audio_seconds REAL;
      ALTER TABLE usage ADD COLUMN characters INTEGER;
    `,
};
