import type { Config } from '../config/types.js';

/** Where the gateway listens and keeps its state: flags beat env, env beats the file
 * (docs/operations.md#starting). */
export interface Settings {
  host: string;
  port: number;
  store: string;
}

export interface SettingFlags {
  host?: string;
  port?: string;
  store?: string;
}

export const DEFAULT_CONFIG_FILE = 'config/keys.yaml';
export const DEFAULT_STORE = 'sqlite:data/tollgate.db';

export function resolveStoreUrl(flag: string | undefined, env: NodeJS.ProcessEnv, config?: Config): string {
  return flag ?? nonEmpty(env.TOLLGATE_STORE) ?? config?.server.store ?? DEFAULT_STORE;
}

export function resolveSettings(flags: SettingFlags, env: NodeJS.ProcessEnv, config: Config): Settings {
  const portText = flags.port ?? nonEmpty(env.PORT);
  const port = portText === undefined ? (config.server.port ?? 8080) : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`port '${portText}' is not a TCP port number (0-65535).`);
  }
  return {
    host: flags.host ?? nonEmpty(env.TOLLGATE_HOST) ?? config.server.host ?? '127.0.0.1',
    port,
    store: resolveStoreUrl(flags.store, env, config),
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** Bearer tokens must resist guessing: at least this many characters (`openssl rand -hex 32` gives 64). */
export const MIN_TOKEN_LENGTH = 32;

/**
 * Refuses a TOLLGATE_ADMIN_TOKEN or TOLLGATE_DASHBOARD_TOKEN that is set but short: either one
 * opens the admin API or the dashboard to whoever can reach the port. Unset or empty leaves that
 * surface off.
 */
export function checkTokens(env: NodeJS.ProcessEnv): void {
  for (const name of ['TOLLGATE_ADMIN_TOKEN', 'TOLLGATE_DASHBOARD_TOKEN']) {
    const value = env[name];
    if (value === undefined || value === '' || value.length >= MIN_TOKEN_LENGTH) continue;
    throw new Error(
      `${name} is ${value.length} character${value.length === 1 ? '' : 's'} long; it must be at least ${MIN_TOKEN_LENGTH} (generate one with 'openssl rand -hex 32').`,
    );
  }
}
