/**
 * Model allow-lists: names with `*` (any run of characters) and `?` (one character) globs, so
 * `claude-*` keeps working when a new Claude model is added to `models:`.
 */

const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (!re) {
    const body = glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${body}$`);
    cache.set(glob, re);
  }
  return re;
}

export function matchesGlob(glob: string, model: string): boolean {
  return glob === model || globToRegExp(glob).test(model);
}

/** Whether a key's allow-list lets it use `model`; no allow-list means every model. */
export function modelAllowed(allowList: readonly string[] | undefined, model: string): boolean {
  return allowList === undefined || allowList.some((glob) => matchesGlob(glob, model));
}

/** The configured models an allow-list lets a key use. */
export function allowedModels(allowList: readonly string[] | undefined, models: readonly string[]): string[] {
  return models.filter((m) => modelAllowed(allowList, m));
}
