import type { Config } from '../../config/types.js';
import type { UsageStore } from '../../store/types.js';
import { dayRange } from '../../windows/bounds.js';
import { dayOf, previousDay } from '../../windows/calendar.js';

type FlagItem = { key: string; detail: string };

/** How far back the flag looks for when a quiet hash was last used. */
const LOOKBACK_DAYS = 30;
const QUIET_DAYS = 7;

function daysBack(day: string, n: number): string {
  let d = day;
  for (let i = 0; i < n; i++) d = previousDay(d);
  return d;
}

/** The first 12 hex digits the usage record keeps of a `sha256:…` hash. */
const prefixOf = (hash: string) => hash.replace(/^sha256:/, '').slice(0, 12);

/**
 * The digest flag "still lists a hash unused for 7 days": a rotation left the old hash in
 * keys.yaml after every client moved to the new key. Only keys that list several hashes are asked
 * about (one query each, over their own records), and only while another of their hashes is in
 * use: a key nobody uses at all is the "unused" flag's business. A key whose hashes are all in use
 * is a rotation in progress: listed with each hash's last use, so the day the old one goes quiet
 * shows in the digest.
 */
export async function hashFlagItems(
  store: Pick<UsageStore, 'queryUsage'>,
  config: Config,
  day: string,
  skip: (key: string) => boolean,
): Promise<{ stale: FlagItem[]; rotating: FlagItem[] }> {
  const tz = config.server.timezone;
  const until = dayRange(day, tz).end;
  const quietSince = dayRange(daysBack(day, QUIET_DAYS - 1), tz).start;
  const lookbackSince = dayRange(daysBack(day, LOOKBACK_DAYS - 1), tz).start;
  const stale: FlagItem[] = [];
  const rotating: FlagItem[] = [];
  for (const key of Object.values(config.keys)) {
    if (key.hashes.length < 2 || key.disabled || skip(key.name)) continue;
    const rows = await store.queryUsage({ since: lookbackSince, until, key: key.name, by: 'hash' }, tz);
    const last = new Map(
      rows.flatMap((r) => (r.hash && r.last_used ? [[r.hash, Date.parse(r.last_used)]] : [])),
    );
    const inUse = (hash: string) => (last.get(prefixOf(hash)) ?? 0) >= quietSince;
    if (!key.hashes.some(inUse)) continue;
    if (key.hashes.every(inUse)) {
      const uses = key.hashes.map((h) => `${prefixOf(h)} last used ${dayOf(last.get(prefixOf(h)) ?? 0, tz)}`);
      rotating.push({ key: key.name, detail: uses.join(', ') });
      continue;
    }
    for (const hash of key.hashes.filter((h) => !inUse(h))) {
      const at = last.get(prefixOf(hash));
      const when =
        at === undefined ? `not used in the last ${LOOKBACK_DAYS} days` : `last used ${dayOf(at, tz)}`;
      stale.push({
        key: key.name,
        detail: `hash ${prefixOf(hash)} ${when} while another of its hashes is in use; drop it from keys.yaml`,
      });
    }
  }
  return { stale, rotating };
}
