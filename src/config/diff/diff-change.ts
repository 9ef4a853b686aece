import type { KeyConfig, KeyLimits } from '../types.js';

/** One change found by diffConfigs, and the helpers the diff files share. */

export type ChangeKind =
  | 'key-added'
  | 'key-removed'
  | 'key-renamed'
  | 'hash-added'
  | 'hash-removed'
  | 'limit-raised'
  | 'limit-lowered'
  | 'limit-added'
  | 'limit-removed'
  | 'models-widened'
  | 'models-narrowed'
  | 'expiry-moved'
  | 'expiry-added'
  | 'expiry-removed'
  | 'key-disabled'
  | 'key-enabled'
  | 'key-details'
  | 'key-group-changed'
  | 'group-added'
  | 'group-removed'
  | 'group-renamed'
  | 'model-added'
  | 'model-removed'
  | 'model-changed'
  | 'price-changed'
  | 'upstream-added'
  | 'upstream-removed'
  | 'upstream-changed'
  | 'defaults-changed'
  | 'server-changed'
  | 'slack-changed';

/** widens: more access or spend; sensitive: worth a careful look (where traffic or secrets go). */
export type ChangeEffect = 'widens' | 'narrows' | 'neutral' | 'sensitive';

export type ChangeArea = 'keys' | 'groups' | 'models' | 'upstreams' | 'defaults' | 'server' | 'slack';

export interface ConfigChange {
  area: ChangeArea;
  kind: ChangeKind;
  /** The key, group, model or upstream name (the new name for a renamed key or group). */
  subject: string;
  effect: ChangeEffect;
  /** Plain text, e.g. `daily_usd raised $5 → $10 (+100%)`. */
  detail: string;
}

export const LIMIT_FIELDS: [keyof KeyLimits, string, boolean][] = [
  ['hourlyUsd', 'hourly_usd', true],
  ['dailyUsd', 'daily_usd', true],
  ['weeklyUsd', 'weekly_usd', true],
  ['monthlyUsd', 'monthly_usd', true],
  ['rpm', 'rpm', false],
  ['tpm', 'tpm', false],
  ['maxParallel', 'max_parallel', false],
  ['maxOutputTokens', 'max_output_tokens', false],
];

export const money = (n: number) => `$${n}`;

export function change(
  area: ChangeArea,
  kind: ChangeKind,
  subject: string,
  effect: ChangeEffect,
  detail: string,
): ConfigChange {
  return { area, kind, subject, effect, detail };
}

export function percent(before: number, after: number): string {
  if (before === 0) return '';
  const p = Math.round(((after - before) / before) * 100);
  return ` (${p > 0 ? '+' : ''}${p}%)`;
}

export function describeLimits(limits: KeyLimits): string {
  const parts = LIMIT_FIELDS.filter(([f]) => limits[f] !== undefined).map(
    ([f, name, usd]) => `${name} ${usd ? money(limits[f] as number) : limits[f]}`,
  );
  return parts.length > 0 ? parts.join(', ') : 'no limits';
}

export function describeKey(key: KeyConfig): string {
  const models = key.models ? key.models.join(', ') : 'every model';
  const expiry = key.expires ? `expires ${key.expires}` : 'never expires';
  const group = key.group ? `; group ${key.group}` : '';
  return `${describeLimits(key.limits)}${group}; models: ${models}; ${expiry}${key.disabled ? '; disabled' : ''}`;
}

export function diffLimits(
  area: ChangeArea,
  subject: string,
  before: KeyLimits,
  after: KeyLimits,
  out: ConfigChange[],
): void {
  for (const [field, name, usd] of LIMIT_FIELDS) {
    const a = before[field];
    const b = after[field];
    if (a === b) continue;
    const show = (n: number) => (usd ? money(n) : String(n));
    const kind = area === 'defaults' ? 'defaults-changed' : undefined;
    if (a === undefined && b !== undefined) {
      out.push(
        change(area, kind ?? 'limit-added', subject, 'narrows', `${name} set to ${show(b)} (was unlimited)`),
      );
    } else if (a !== undefined && b === undefined) {
      out.push(
        change(area, kind ?? 'limit-removed', subject, 'widens', `${name} ${show(a)} removed: now unlimited`),
      );
    } else if (a !== undefined && b !== undefined) {
      const raised = b > a;
      out.push(
        change(
          area,
          kind ?? (raised ? 'limit-raised' : 'limit-lowered'),
          subject,
          raised ? 'widens' : 'narrows',
          `${name} ${raised ? 'raised' : 'lowered'} ${show(a)} → ${show(b)}${percent(a, b)}`,
        ),
      );
    }
  }
}
