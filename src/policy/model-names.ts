import { buildModel } from '../config/load/model-prices.js';
import { matchesGlob } from '../config/model-globs.js';
import { ownEntry } from '../config/own.js';
import type { ModelSection } from '../config/types.gen.js';
import type { Config, ModelConfig } from '../config/types.js';
import { CATALOG_VERSION, catalogModelIds, lookupCatalog, providerForName } from '../pricing/catalog.js';

/**
 * Names as clients send them (docs/configuration.md#how-a-requested-model-name-is-resolved): a requested name
 * matches a model entry exactly; else an entry it extends by a dated-snapshot suffix
 * (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`, `gpt-4o-2024-08-06` → `gpt-4o`); else a glob entry
 * (`claude-*`), which serves it only if the catalog prices that name. The upstream always receives the
 * client's own name; the model the gateway resolves to is what the allow-list, the record and the budget see.
 */

export type NameResolution =
  | { model: ModelConfig; via: 'exact' | 'snapshot' | 'glob' }
  | { model?: undefined; reason: string };

/** `-20250929` or `-2024-08-06` at the end of a name. */
const SNAPSHOT_SUFFIX = /-(?:\d{8}|\d{4}-\d{2}-\d{2})$/;

/** Resolutions of names other than exact entries are cached per config, up to this many names. */
const CACHE_LIMIT = 1_000;
const caches = new WeakMap<Config, Map<string, NameResolution>>();

/** `now` only picks the prices shown for a model built here; metering picks them per request. */
export function resolveModelName(config: Config, name: string, now: number): NameResolution {
  const exact = ownEntry(config.models, name);
  if (exact && !exact.glob) return { model: exact, via: 'exact' };
  let cache = caches.get(config);
  if (!cache) {
    cache = new Map();
    caches.set(config, cache);
  }
  const hit = cache.get(name);
  if (hit) return hit;
  const resolved = resolveUncached(config, name, now);
  if (cache.size < CACHE_LIMIT) cache.set(name, resolved);
  return resolved;
}

function resolveUncached(config: Config, name: string, now: number): NameResolution {
  const base = name.replace(SNAPSHOT_SUFFIX, '');
  const entry = base !== name ? ownEntry(config.models, base) : undefined;
  if (entry && !entry.glob) {
    // A dated snapshot can be priced apart (gpt-4o-2024-05-13 costs twice gpt-4o): the catalog's
    // price for the name asked for, under the entry's explicit prices, else the entry's own.
    const upstream = ownEntry(config.upstreams, entry.upstream);
    const catalog = entry.catalogId !== undefined ? lookupCatalog(name, upstream?.provider) : undefined;
    if (!catalog || catalog.id === entry.catalogId) return { model: entry, via: 'snapshot' };
    return { model: buildModel(entry.name, sectionOf(entry), upstream, catalog, now), via: 'snapshot' };
  }
  const globs = Object.values(config.models).filter((m) => m.glob && matchesGlob(m.name, name));
  for (const glob of globs) {
    const upstream = ownEntry(config.upstreams, glob.upstream);
    const catalog = lookupCatalog(name, upstream?.provider);
    if (!catalog) continue;
    return { model: buildModel(catalog.id, sectionOf(glob), upstream, catalog, now), via: 'glob' };
  }
  if (globs.length > 0) {
    const list = globs.map((g) => `'${g.name}'`).join(', ');
    return {
      reason: `model '${name}' matches ${list} in keys.yaml, but the price catalog (${CATALOG_VERSION}) has no price for it, and a budget cannot be hard without one: add '${name}' under models: with input_per_mtok and output_per_mtok, or check the name.`,
    };
  }
  return { reason: `model '${name}' is not served by this gateway` };
}

/** The keys.yaml fields of an entry, to build a model it serves under another name. */
function sectionOf(m: ModelConfig): ModelSection {
  const s: ModelSection = { upstream: m.upstream, max_output_tokens: m.maxOutputTokens };
  if (m.explicit.input !== undefined) s.input_per_mtok = m.explicit.input;
  if (m.explicit.output !== undefined) s.output_per_mtok = m.explicit.output;
  if (m.explicit.cachedInput !== undefined) s.cached_input_per_mtok = m.explicit.cachedInput;
  if (m.explicit.cacheWrite !== undefined) s.cache_write_per_mtok = m.explicit.cacheWrite;
  if (m.contextWindowSource === 'keys.yaml' && m.contextWindow !== undefined)
    s.context_window = m.contextWindow;
  return s;
}

const globIds = new WeakMap<ModelConfig, string[]>();

/**
 * The catalog models a glob entry serves: those of its upstream's provider (else of the provider
 * whose names the glob's literal prefix looks like) whose ids match the glob. Computed once per
 * loaded entry.
 */
export function globCatalogIds(config: Config, glob: ModelConfig): string[] {
  let ids = globIds.get(glob);
  if (!ids) {
    const upstream = ownEntry(config.upstreams, glob.upstream);
    const prefix = glob.name.split(/[*?]/)[0] ?? '';
    const provider = upstream?.provider ?? (prefix ? providerForName(prefix) : undefined);
    ids = provider ? catalogModelIds(provider).filter((id) => matchesGlob(glob.name, id)) : [];
    globIds.set(glob, ids);
  }
  return ids;
}
