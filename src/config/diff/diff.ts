import type { Config } from '../types.js';
import { diffCatalog, diffSettings } from './diff-catalog.js';
import type { ConfigChange } from './diff-change.js';
import { diffGroups } from './diff-groups.js';
import { diffKeys } from './diff-keys.js';

/**
 * What a change to keys.yaml does, for a pull-request review, a reload announcement in Slack and
 * `tollgate diff`. Changes that widen access or spending (a raised or removed limit, more models,
 * a later expiry, an enabled key, a new hash) are marked so a reviewer sees them at once.
 */

export type { ChangeArea, ChangeEffect, ChangeKind, ConfigChange } from './diff-change.js';

export function diffConfigs(oldCfg: Config, newCfg: Config): ConfigChange[] {
  const out: ConfigChange[] = [];
  const groups: ConfigChange[] = [];
  const renamedGroups = diffGroups(oldCfg, newCfg, groups);
  diffKeys(oldCfg, newCfg, out, renamedGroups);
  out.push(...groups);
  diffCatalog(oldCfg, newCfg, out);
  diffSettings(oldCfg, newCfg, out);
  return out;
}

export { renderDiff } from './diff-render.js';
