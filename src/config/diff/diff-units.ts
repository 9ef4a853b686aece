import type { ModelConfig, UnitPrices } from '../types.js';
import { type ConfigChange, change, money, percent } from './diff-change.js';

/**
 * The unit prices of image and audio models in a config diff (docs/api.md#images-and-audio):
 * `image_usd` per size and quality, `input_per_mchar`, `audio_per_minute`, each a price change.
 */

/** `image_usd` as one entry per size (`*` for a single price). */
function imageEntries(u: UnitPrices | undefined): Map<string, number> {
  const v = u?.imageUsd;
  if (v === undefined) return new Map();
  return new Map(typeof v === 'number' ? [['*', v]] : Object.entries(v));
}

const show = (x: number | undefined) => (x === undefined ? 'unset' : money(x));

export function diffUnitPrices(name: string, old: ModelConfig, next: ModelConfig, out: ConfigChange[]): void {
  const scalar: [string, number | undefined, number | undefined][] = [
    ['input_per_mchar', old.units?.inputPerMchar, next.units?.inputPerMchar],
    ['audio_per_minute', old.units?.audioPerMinute, next.units?.audioPerMinute],
  ];
  for (const [field, a, b] of scalar) {
    if (a === b) continue;
    const pct = a !== undefined && b !== undefined ? percent(a, b) : '';
    out.push(change('models', 'price-changed', name, 'neutral', `${field} ${show(a)} → ${show(b)}${pct}`));
  }
  const before = imageEntries(old.units);
  const after = imageEntries(next.units);
  for (const size of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(size);
    const b = after.get(size);
    if (a === b) continue;
    const label = size === '*' ? 'image_usd' : `image_usd "${size}"`;
    const pct = a !== undefined && b !== undefined ? percent(a, b) : '';
    out.push(change('models', 'price-changed', name, 'neutral', `${label} ${show(a)} → ${show(b)}${pct}`));
  }
}

/** How an added model is priced, for its diff line. */
export function addedPriceText(m: ModelConfig): string {
  const u = m.units;
  if (m.prices.length > 0 || !u) return `at $${m.inputPerMtok}/$${m.outputPerMtok} per Mtok in/out`;
  const parts: string[] = [];
  if (u.imageUsd !== undefined)
    parts.push(typeof u.imageUsd === 'number' ? `$${u.imageUsd}/image` : 'per image (image_usd)');
  if (u.inputPerMchar !== undefined) parts.push(`$${u.inputPerMchar}/M chars`);
  if (u.audioPerMinute !== undefined) parts.push(`$${u.audioPerMinute}/audio min`);
  return `at ${parts.join(', ')}`;
}
