import type { KeysFile } from '../types.gen.js';
import type { Finding } from './finding.js';
import { normalizeConfig } from './normalize.js';
import { checkRules, type PrunedParts } from './rules.js';
import { checkSchema } from './schema-check.js';

/**
 * The semantic rules for a file that failed the schema, run over the parts that passed it, so a
 * user sees an unknown upstream or a duplicate hash in the same run as a typo'd field instead of
 * one run later. Each schema error removes the smallest unit that holds it (an upstream, model or
 * key entry; a field of server/defaults/slack; a whole section when the section itself is wrong),
 * and the rest must pass the schema again before any rule sees it. Rules that could be fooled by
 * a removed entry (a model whose upstream was removed, an allow-list that may match a removed
 * model) are told what was removed. Anything unexpected gives no rule findings, never a throw.
 */

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function prune(data: unknown, schemaFindings: Finding[]): { raw: KeysFile; pruned: PrunedParts } | undefined {
  if (!isMap(data)) return undefined;
  const root: Record<string, unknown> = { ...data };
  // Copied one level down before deleting, so the caller's parsed data is left as it was.
  for (const [k, v] of Object.entries(root)) if (isMap(v)) root[k] = { ...v };
  const pruned: PrunedParts = { upstreams: new Set(), models: new Set(), groups: new Set() };
  for (const { path } of schemaFindings) {
    const [section, entry] = path;
    if (section === undefined || section === 'version') {
      // A missing or wrong version says nothing about the rest of the file.
      if (path.length <= 1) root.version = 1;
      else return undefined;
      continue;
    }
    const name = String(section);
    if (entry === undefined) {
      delete root[name];
      if (name === 'upstreams' || name === 'models' || name === 'groups') pruned[name] = 'all';
      continue;
    }
    const holder = root[name];
    if (holder === undefined) continue; // the whole section is already removed
    if (!isMap(holder)) return undefined;
    delete holder[String(entry)];
    if (name === 'upstreams' || name === 'models' || name === 'groups') {
      const set = pruned[name];
      if (set !== 'all') set?.add(String(entry));
    }
  }
  if (checkSchema(root).length > 0) return undefined;
  return { raw: root as unknown as KeysFile, pruned };
}

export function rulesOverValidParts(data: unknown, schemaFindings: Finding[], now: number): Finding[] {
  try {
    const parts = prune(data, schemaFindings);
    if (!parts) return [];
    return checkRules(parts.raw, normalizeConfig(parts.raw), now, parts.pruned);
  } catch {
    // The file already has errors to show; a rule tripping on a shape nobody foresaw must not hide them.
    return [];
  }
}
