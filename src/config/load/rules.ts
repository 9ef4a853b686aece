import { validate as validateCron } from 'node-cron';
import { isValidTimeZone } from '../../windows/calendar.js';
import { matchesGlob } from '../model-globs.js';
import type { KeysFile } from '../types.gen.js';
import type { Config } from '../types.js';
import { checkBaseUrls } from './base-url.js';
import { errorAt, type Finding, warningAt } from './finding.js';
import { isGlobName } from './model-prices.js';
import { checkPrices } from './price-rules.js';
import { breakerCanBeLifted } from './rules-alerts.js';
import { checkBilling } from './rules-billing.js';
import { closest } from './schema-check.js';

/**
 * The rules (docs/configuration.md#rules-beyond-the-schema) that a schema cannot express. Each is a plain
 * function over the schema-valid file (for paths) and the normalized config (for resolved values), returning
 * findings with paths; the loader maps them to line:column. Every rule is linear in the number of keys so a
 * 10,000-key file validates quickly.
 */

const DAY_MS = 86_400_000;

/**
 * Upstreams and models removed from a schema-invalid file before the rules ran over the rest
 * ('all' when the whole section was): references to them are not reported as unknown.
 */
export interface PrunedParts {
  upstreams: Set<string> | 'all';
  models: Set<string> | 'all';
  groups?: Set<string> | 'all';
}

type RawKey = NonNullable<KeysFile['keys']>[string];
type RuleContext = {
  raw: KeysFile;
  config: Config;
  now: number;
  pruned?: PrunedParts;
  /**
   * `Object.entries(raw.keys)`, taken once for every rule: with 10,000 keys each copy of the
   * entries cost a rule ~5 ms (the parsed keys map is in dictionary mode).
   */
  keys: Array<[string, RawKey]>;
};
type Rule = (ctx: RuleContext) => Finding[];

function didYouMean(name: string, candidates: string[], noun: string): string {
  const guess = closest(name, candidates);
  if (guess) return `did you mean '${guess}'?`;
  return candidates.length > 0 ? `defined ${noun}: ${candidates.join(', ')}` : `no ${noun} are defined`;
}

const timezoneIsKnown: Rule = ({ raw }) => {
  const tz = raw.server?.timezone;
  if (tz === undefined || isValidTimeZone(tz)) return [];
  return [
    errorAt(
      ['server', 'timezone'],
      `server.timezone '${tz}' is not an IANA timezone name such as UTC or Europe/Berlin`,
    ),
  ];
};

const modelUpstreamsExist: Rule = ({ raw, config, pruned }) => {
  const upstreams = Object.keys(config.upstreams);
  const removed = pruned?.upstreams;
  if (removed === 'all') return [];
  const out: Finding[] = [];
  for (const [name, model] of Object.entries(raw.models ?? {})) {
    if (!model || Object.hasOwn(config.upstreams, model.upstream) || removed?.has(model.upstream)) continue;
    out.push(
      errorAt(
        ['models', name, 'upstream'],
        `model '${name}' uses upstream '${model.upstream}', which is not defined under upstreams: ${didYouMean(model.upstream, upstreams, 'upstreams')}`,
      ),
    );
  }
  return out;
};

const hashesAreUnique: Rule = ({ keys }) => {
  const owners = new Map<string, string>();
  const out: Finding[] = [];
  for (const [name, key] of keys) {
    if (!key) continue;
    if (typeof key.hash === 'string') {
      // The common case, one hash: no list or path is built unless it is a duplicate.
      const owner = owners.get(key.hash);
      if (owner === undefined) owners.set(key.hash, name);
      else
        out.push(
          errorAt(
            ['keys', name, 'hash'],
            `key '${name}' has the same hash as key '${owner}': every key needs its own secret, so mint one with 'tollgate keys new ${name}'`,
          ),
        );
      continue;
    }
    key.hash.forEach((hash, i) => {
      const path = ['keys', name, 'hash', i];
      const owner = owners.get(hash);
      if (owner === undefined) {
        owners.set(hash, name);
      } else if (owner === name) {
        out.push(errorAt(path, `key '${name}' lists the same hash twice`));
      } else {
        out.push(
          errorAt(
            path,
            `key '${name}' has the same hash as key '${owner}': every key needs its own secret, so mint one with 'tollgate keys new ${name}'`,
          ),
        );
      }
    });
  }
  return out;
};

const allowListsAreNotEmpty: Rule = ({ keys }) => {
  const out: Finding[] = [];
  for (const [name, key] of keys) {
    if (key?.models?.length === 0) {
      out.push(
        warningAt(
          ['keys', name, 'models'],
          `key '${name}' has an empty models list, so it may use no model: list models, or remove 'models' to allow every model`,
        ),
      );
    }
  }
  return out;
};

const allowListsMatchModels: Rule = ({ keys, config, pruned }) => {
  if (pruned?.models === 'all') return [];
  // A model removed for a schema error still counts: the allow-list may be meant for it.
  const models = [...Object.keys(config.models), ...(pruned?.models ?? [])];
  // Many keys share the same few allow-list entries: decide each entry once.
  const matches = new Map<string, boolean>();
  const out: Finding[] = [];
  for (const [name, key] of keys) {
    key?.models?.forEach((glob, i) => {
      let ok = matches.get(glob);
      if (ok === undefined) {
        // A name a glob entry serves (claude-haiku-4-5 under "claude-*") counts as configured.
        ok = models.some((m) => matchesGlob(glob, m) || (isGlobName(m) && matchesGlob(m, glob)));
        matches.set(glob, ok);
      }
      if (!ok) {
        out.push(
          errorAt(
            ['keys', name, 'models', i],
            `'${glob}' in the models of key '${name}' matches no configured model: ${didYouMean(glob, models, 'models')}`,
          ),
        );
      }
    });
  }
  return out;
};

function isRealDate(day: string): boolean {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

const expiriesAreSensible: Rule = ({ config, now }) => {
  const tz = config.server.timezone;
  const maxDays = config.defaults.maxExpiryDays;
  const out: Finding[] = [];
  for (const key of Object.values(config.keys)) {
    if (key.expires === undefined && maxDays === undefined) continue;
    const path = ['keys', key.name, 'expires'];
    if (key.expires === undefined || key.expiresAt === undefined) {
      if (maxDays !== undefined) {
        out.push(
          warningAt(
            ['keys', key.name],
            `key '${key.name}' never expires, but defaults.max_expiry_days asks for an expiry within ${maxDays} days`,
            'key',
          ),
        );
      }
      continue;
    }
    if (!isRealDate(key.expires)) {
      out.push(errorAt(path, `keys.${key.name}.expires '${key.expires}' is not a real calendar date`));
    } else if (key.expiresAt <= now) {
      out.push(
        warningAt(
          path,
          `key '${key.name}' expired at the end of ${key.expires} (${tz}) and is refused: remove it or move its expiry`,
        ),
      );
    } else if (maxDays !== undefined && key.expiresAt - now > maxDays * DAY_MS) {
      out.push(
        warningAt(
          path,
          `key '${key.name}' expires on ${key.expires}, more than max_expiry_days (${maxDays}) from today`,
        ),
      );
    }
  }
  return out;
};

const keyGroupsExist: Rule = ({ keys, config, pruned }) => {
  const groups = Object.keys(config.groups ?? {});
  const removed = pruned?.groups;
  if (removed === 'all') return [];
  const out: Finding[] = [];
  for (const [name, key] of keys) {
    const group = key?.group;
    if (group === undefined || Object.hasOwn(config.groups ?? {}, group) || removed?.has(group)) continue;
    out.push(
      errorAt(
        ['keys', name, 'group'],
        `key '${name}' is in group '${group}', which is not defined under groups: ${didYouMean(group, groups, 'groups')}`,
      ),
    );
  }
  return out;
};

const digestIsCron: Rule = ({ raw }) => {
  const digest = raw.slack?.digest;
  if (digest === undefined || validateCron(digest)) return [];
  return [errorAt(['slack', 'digest'], `slack.digest '${digest}' is not a cron expression like "0 9 * * *"`)];
};

const RULES: Rule[] = [
  timezoneIsKnown,
  ({ config }) => checkBaseUrls(config),
  modelUpstreamsExist,
  hashesAreUnique,
  allowListsMatchModels,
  allowListsAreNotEmpty,
  expiriesAreSensible,
  keyGroupsExist,
  digestIsCron,
  checkPrices,
  breakerCanBeLifted,
  checkBilling,
];

export function checkRules(raw: KeysFile, config: Config, now: number, pruned?: PrunedParts): Finding[] {
  const ctx: RuleContext = {
    raw,
    config,
    now,
    keys: Object.entries(raw.keys ?? {}),
    ...(pruned ? { pruned } : {}),
  };
  return RULES.flatMap((rule) => rule(ctx));
}
