import { ownEntry } from '../own.js';
import type { Config, KeyConfig } from '../types.js';
import { type ConfigChange, change, describeLimits, diffLimits } from './diff-change.js';

/**
 * The group part of a config diff: groups added, removed or renamed (the same keys moved from a
 * removed group to an added one), their limits, and keys moved into, out of or between groups.
 * A group's spend is tracked by its name, like a key's, so a rename starts its budgets again.
 */

function membersOf(cfg: Config, group: string): string[] {
  return Object.values(cfg.keys)
    .filter((k) => k.group === group)
    .map((k) => k.name)
    .sort();
}

const sameMembers = (a: string[], b: string[]) => a.length > 0 && a.join('\n') === b.join('\n');

export function diffGroups(oldCfg: Config, newCfg: Config, out: ConfigChange[]): Map<string, string> {
  const before = oldCfg.groups ?? {};
  const after = newCfg.groups ?? {};
  const removed = Object.keys(before).filter((n) => !Object.hasOwn(after, n));
  /** new name → old name, for groups renamed with their keys. */
  const renamed = new Map<string, string>();
  for (const [name, group] of Object.entries(after)) {
    const old = ownEntry(before, name);
    if (old) {
      diffLimits('groups', name, old.limits, group.limits, out);
      continue;
    }
    const members = membersOf(newCfg, name);
    const from = removed.find(
      (r) => ![...renamed.values()].includes(r) && sameMembers(membersOf(oldCfg, r), members),
    );
    const formerGroup = from === undefined ? undefined : ownEntry(before, from);
    if (from !== undefined && formerGroup) {
      renamed.set(name, from);
      out.push(
        change(
          'groups',
          'group-renamed',
          name,
          'widens',
          `renamed from ${from} (same keys): a group's spend is tracked by name, so its budgets start again from zero`,
        ),
      );
      diffLimits('groups', name, formerGroup.limits, group.limits, out);
    } else {
      out.push(
        change('groups', 'group-added', name, 'narrows', `new group: ${describeLimits(group.limits)}`),
      );
    }
  }
  const renamedFrom = new Set(renamed.values());
  for (const name of removed) {
    if (renamedFrom.has(name)) continue;
    out.push(
      change(
        'groups',
        'group-removed',
        name,
        'widens',
        'removed: its keys are no longer bound by its limits',
      ),
    );
  }
  return renamed;
}

/** A kept key's group membership; `renamed` (new → old) keeps a group rename from reading as a move. */
export function diffKeyGroup(
  subject: string,
  before: KeyConfig,
  after: KeyConfig,
  renamed: Map<string, string>,
  out: ConfigChange[],
): void {
  const a = before.group;
  const b = after.group;
  if (a === b || (a !== undefined && b !== undefined && renamed.get(b) === a)) return;
  if (a === undefined) {
    out.push(
      change('keys', 'key-group-changed', subject, 'narrows', `joins group ${b}: also bound by its limits`),
    );
  } else if (b === undefined) {
    out.push(
      change(
        'keys',
        'key-group-changed',
        subject,
        'widens',
        `leaves group ${a}: no longer bound by its limits`,
      ),
    );
  } else {
    out.push(
      change(
        'keys',
        'key-group-changed',
        subject,
        'widens',
        `moved from group ${a} to group ${b}: its spend now counts against ${b}'s limits`,
      ),
    );
  }
}
