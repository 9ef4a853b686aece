/**
 * Whose spend row a budget period entry names. A reservation and a charge carry a list of period
 * entries; `d:2026-11-26` is the key's own row for that day, `@backend/d:2026-11-26` the row of
 * group 'backend'. A group's spend rows live in the same `spend` table under the subject
 * `@backend`, which no key can collide with (key names start with a letter or digit).
 *
 * Keeping the subject inside the entry means a reservation remembers every row it holds: a
 * request admitted before a reload moved its key to another group (or renamed the group) settles
 * against exactly what it reserved. The PostgreSQL functions split entries the same way
 * (tollgate_subject / tollgate_period, migration 5).
 */

export const groupSubject = (group: string): string => `@${group}`;

/** The entry of `period` (`d:…`) in the spend of group `group`. */
export const groupPeriod = (group: string, period: string): string => `@${group}/${period}`;

/** The spend row (subject, period) an entry of key `key` names. */
export function spendRowOf(key: string, entry: string): [subject: string, period: string] {
  if (entry.startsWith('@')) {
    const slash = entry.indexOf('/');
    if (slash > 0) return [entry.slice(0, slash), entry.slice(slash + 1)];
  }
  return [key, entry];
}

/** The group a period entry belongs to, or undefined for the key's own. */
export function groupOf(entry: string): string | undefined {
  if (!entry.startsWith('@')) return undefined;
  const slash = entry.indexOf('/');
  return slash > 0 ? entry.slice(1, slash) : undefined;
}
