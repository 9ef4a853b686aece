import { matchesGlob } from '../config/model-globs.js';
import type { Config } from '../config/types.js';

/** The one label value for a key that is not in the config (or no key at all). */
export const UNKNOWN_KEY = 'unknown';
/** The one label value for a model name that no model entry serves. */
export const OTHER_MODEL = 'other';
const OTHER_STATUS = 'other';

export interface LabelPolicy {
  retain(config: Pick<Config, 'keys' | 'models'>): void;
  key(name: string): string;
  model(name: string | null): string;
  status(status: number): string;
}

/**
 * Label values come from the config only. A client picks the model name it sends (and a refused
 * request is still counted), so labelling by what was sent let 3,000 random names make 48,000
 * series. Now a configured entry keeps its name, a name a glob entry serves counts under the glob
 * (`claude-*`: the store has the exact model), and everything else is `other`; keys likewise.
 * The series count is then bounded by keys × (model entries + 1) × statuses.
 */
export function createLabelPolicy(): LabelPolicy {
  let keys: ReadonlySet<string> = new Set();
  let entries: ReadonlySet<string> = new Set();
  let globs: readonly string[] = [];
  // Names seen → their label; cleared at each reload and when it grows (random names are cheap to send).
  const seen = new Map<string, string>();
  return {
    retain(config) {
      keys = new Set(Object.keys(config.keys));
      entries = new Set(Object.keys(config.models));
      globs = Object.entries(config.models)
        .filter(([, m]) => m.glob)
        .map(([name]) => name);
      seen.clear();
    },
    key: (name) => (keys.has(name) ? name : UNKNOWN_KEY),
    model(name) {
      if (name === null) return OTHER_MODEL;
      if (entries.has(name)) return name;
      let label = seen.get(name);
      if (label === undefined) {
        label = globs.find((g) => matchesGlob(g, name)) ?? OTHER_MODEL;
        if (seen.size >= 10_000) seen.clear();
        seen.set(name, label);
      }
      return label;
    },
    // HTTP status codes are a small set already; anything outside 100–599 is not one.
    status: (status) =>
      Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : OTHER_STATUS,
  };
}
