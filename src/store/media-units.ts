/**
 * The records with media units: the condition of the partial index usage_media_ts (SQLite
 * migration 12, PostgreSQL migration 22), which SQLite uses only for a query naming it as it is.
 */
export const MEDIA_RECORDS = 'images IS NOT NULL OR audio_seconds IS NOT NULL OR characters IS NOT NULL';

/** The media units of a group, only those it has (most groups have none). */
export function mediaUnits(r: {
  images?: number | null;
  audio_seconds?: number | null;
  characters?: number | null;
}) {
  const out: { images?: number; audio_seconds?: number; characters?: number } = {};
  if (r.images) out.images = Number(r.images);
  if (r.audio_seconds) out.audio_seconds = Number(r.audio_seconds);
  if (r.characters) out.characters = Number(r.characters);
  return out;
}
