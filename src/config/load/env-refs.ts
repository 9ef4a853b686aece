import type { Config, UpstreamConfig } from '../types.js';
import { errorAt, type Finding, warningAt } from './finding.js';

/**
 * `${VAR}` references checked against an environment. `tollgate validate` needs no secrets, so it checks them
 * only with `--env`; serve and reload always do (docs/hot-reload.md#var-references). What an unset one means
 * depends on who asks:
 *
 * - `validate --env` and a hot reload: an error. A typo like `${NOPE_NOT_SET}` would otherwise
 *   turn every request to that upstream into a 503 the moment it applies.
 * - serve's first load: a warning, and the gateway starts. The README's quick start serves the
 *   example config with no provider key set, and requests for an upstream whose key is missing
 *   get a clear 503 naming the variable. Refusing to start would break that first minute.
 *
 * A reload still accepts a variable that the served config already names while it is unset (the
 * environment of a running process does not change, so the operator has accepted that gap at
 * start): only a newly named unset variable rejects the file.
 */

export interface EnvCheck {
  vars: NodeJS.ProcessEnv;
  /** 'error' for validate --env and reloads, 'warning' for the first load of serve. */
  unsetIs: 'error' | 'warning';
  /** Unset names that are accepted anyway (the ones the served config already names). */
  tolerate?: ReadonlySet<string>;
}

const isSet = (vars: NodeJS.ProcessEnv, name: string) => (vars[name] ?? '') !== '';

/** Names of the variables `config` refers to that are unset or empty in `vars`. */
export function unsetReferences(config: Config, vars: NodeJS.ProcessEnv): Set<string> {
  const out = new Set<string>();
  for (const u of Object.values(config.upstreams)) {
    if (!isSet(vars, u.apiKeyEnv)) out.add(u.apiKeyEnv);
    if (u.billing && !isSet(vars, u.billing.adminKeyEnv)) out.add(u.billing.adminKeyEnv);
  }
  return out;
}

/**
 * An unset admin key only stops the bill check (which then says "unavailable"), never a request:
 * so it is a warning at start and an error only where a typo should be caught (validate --env, reload).
 */
function checkAdminKeyReference(u: UpstreamConfig, env: EnvCheck): Finding[] {
  const name = u.billing?.adminKeyEnv;
  if (name === undefined || isSet(env.vars, name) || env.tolerate?.has(name)) return [];
  const path = ['upstreams', u.name, 'billing', 'admin_key'];
  const message = `upstreams.${u.name}.billing.admin_key names \${${name}}, which is not set: the bill check of this upstream reports "unavailable" until tollgate runs with ${name} set`;
  return [env.unsetIs === 'warning' ? warningAt(path, message) : errorAt(path, message)];
}

export function checkEnvReferences(config: Config, env: EnvCheck): Finding[] {
  const out: Finding[] = [];
  for (const u of Object.values(config.upstreams)) {
    out.push(...checkAdminKeyReference(u, env));
    const name = u.apiKeyEnv;
    if (isSet(env.vars, name) || env.tolerate?.has(name)) continue;
    const path = ['upstreams', u.name, 'api_key'];
    if (env.unsetIs === 'warning') {
      out.push(
        warningAt(
          path,
          `upstreams.${u.name}.api_key names \${${name}}, which is not set: requests for this upstream's models get 503 until tollgate runs with ${name} set`,
        ),
      );
    } else {
      out.push(
        errorAt(
          path,
          `upstreams.${u.name}.api_key names \${${name}}, which is not set in the environment where tollgate runs: fix the name, or set ${name} and restart tollgate`,
        ),
      );
    }
  }
  return out;
}
