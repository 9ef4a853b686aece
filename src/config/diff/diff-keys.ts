import { allowedModels } from '../model-globs.js';
import { ownEntry } from '../own.js';
import type { Config, KeyConfig } from '../types.js';
import { type ConfigChange, change, describeKey, diffLimits } from './diff-change.js';
import { diffKeyGroup } from './diff-groups.js';

/** The key part of a config diff: added, removed, renamed (same hash) and each field of a kept key. */

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function diffModels(
  subject: string,
  before: KeyConfig,
  after: KeyConfig,
  modelNames: string[],
  out: ConfigChange[],
): void {
  if (sameList(before.models, after.models)) return;
  const area = 'keys';
  if (after.models === undefined) {
    out.push(
      change(area, 'models-widened', subject, 'widens', 'model allow-list removed: every model allowed now'),
    );
    return;
  }
  if (before.models === undefined) {
    out.push(
      change(area, 'models-narrowed', subject, 'narrows', `models limited to ${after.models.join(', ')}`),
    );
    return;
  }
  const added = after.models.filter((m) => !before.models?.includes(m));
  const removed = before.models.filter((m) => !after.models?.includes(m));
  const wasAllowed = new Set(allowedModels(before.models, modelNames));
  const gained = allowedModels(after.models, modelNames).filter((m) => !wasAllowed.has(m));
  // A new glob widens even when it matches nothing new today: it covers models added later.
  const newGlobs = added.filter((m) => /[*?]/.test(m));
  const parts = [...added.map((m) => `+${m}`), ...removed.map((m) => `-${m}`)];
  if (parts.length === 0) return; // Only the order changed.
  if (gained.length > 0 || newGlobs.length > 0) {
    const gainedText =
      gained.length > 0 ? ` (now allows ${gained.join(', ')})` : ' (the glob covers future models)';
    out.push(
      change(area, 'models-widened', subject, 'widens', `models widened: ${parts.join(', ')}${gainedText}`),
    );
  } else {
    out.push(change(area, 'models-narrowed', subject, 'narrows', `models narrowed: ${parts.join(', ')}`));
  }
}

function diffExpiry(subject: string, before: KeyConfig, after: KeyConfig, out: ConfigChange[]): void {
  const a = before.expires;
  const b = after.expires;
  if (a === b) return;
  if (a === undefined && b !== undefined) {
    out.push(change('keys', 'expiry-added', subject, 'narrows', `now expires ${b}`));
  } else if (a !== undefined && b === undefined) {
    out.push(change('keys', 'expiry-removed', subject, 'widens', `expiry ${a} removed: never expires now`));
  } else if (a !== undefined && b !== undefined) {
    const later = b > a;
    out.push(
      change(
        'keys',
        'expiry-moved',
        subject,
        later ? 'widens' : 'narrows',
        `expiry moved ${later ? 'later' : 'earlier'}: ${a} → ${b}`,
      ),
    );
  }
}

function diffKey(
  subject: string,
  before: KeyConfig,
  after: KeyConfig,
  modelNames: string[],
  out: ConfigChange[],
  renamedGroups: Map<string, string>,
): void {
  const added = after.hashes.filter((h) => !before.hashes.includes(h));
  const removed = before.hashes.filter((h) => !after.hashes.includes(h));
  const short = (h: string) => `${h.slice(0, 15)}…`;
  for (const h of added) {
    out.push(
      change(
        'keys',
        'hash-added',
        subject,
        'widens',
        `new hash ${short(h)} added: one more secret opens this key`,
      ),
    );
  }
  for (const h of removed) {
    out.push(
      change(
        'keys',
        'hash-removed',
        subject,
        'narrows',
        `hash ${short(h)} removed: that secret stops working`,
      ),
    );
  }
  if (before.disabled !== after.disabled) {
    out.push(
      after.disabled
        ? change('keys', 'key-disabled', subject, 'narrows', 'disabled')
        : change('keys', 'key-enabled', subject, 'widens', 'enabled again'),
    );
  }
  diffLimits('keys', subject, before.limits, after.limits, out);
  diffKeyGroup(subject, before, after, renamedGroups, out);
  diffModels(subject, before, after, modelNames, out);
  diffExpiry(subject, before, after, out);
  const details = [
    before.description !== after.description && 'description',
    before.owner !== after.owner && 'owner',
    !sameList(before.notify, after.notify) && 'notify',
    JSON.stringify(before.tags) !== JSON.stringify(after.tags) && 'tags',
  ].filter((d): d is string => typeof d === 'string');
  if (details.length > 0) {
    out.push(change('keys', 'key-details', subject, 'neutral', `${details.join(', ')} changed`));
  }
}

export function diffKeys(
  oldCfg: Config,
  newCfg: Config,
  out: ConfigChange[],
  renamedGroups: Map<string, string> = new Map(),
): void {
  const modelNames = Object.keys(newCfg.models);
  const removedNames = Object.keys(oldCfg.keys).filter((n) => !Object.hasOwn(newCfg.keys, n));
  const removedByHash = new Map<string, string>();
  for (const name of removedNames)
    for (const h of ownEntry(oldCfg.keys, name)?.hashes ?? []) removedByHash.set(h, name);
  const renamedFrom = new Set<string>();

  for (const [name, key] of Object.entries(newCfg.keys)) {
    const old = ownEntry(oldCfg.keys, name);
    if (old) {
      diffKey(name, old, key, modelNames, out, renamedGroups);
      continue;
    }
    const formerName = key.hashes
      .map((h) => removedByHash.get(h))
      .find((n) => n !== undefined && !renamedFrom.has(n));
    const former = formerName === undefined ? undefined : ownEntry(oldCfg.keys, formerName);
    if (formerName !== undefined && former) {
      renamedFrom.add(formerName);
      out.push(
        change(
          'keys',
          'key-renamed',
          name,
          // Spend is tracked by name: a rename starts the key's budgets again from zero.
          'widens',
          `renamed from ${formerName} (same hash): spend is tracked by name, so its budgets start again from zero`,
        ),
      );
      diffKey(name, former, key, modelNames, out, renamedGroups);
    } else {
      out.push(change('keys', 'key-added', name, 'widens', `new key: ${describeKey(key)}`));
    }
  }
  for (const name of removedNames) {
    if (renamedFrom.has(name)) continue;
    out.push(change('keys', 'key-removed', name, 'narrows', 'removed: its secret stops working'));
  }
}
