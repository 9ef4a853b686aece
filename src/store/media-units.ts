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
