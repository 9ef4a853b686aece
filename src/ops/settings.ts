import type { Config } from '../config/types.js';

/** Where the gateway listens and keeps its state: flags beat env, env beats the file (SPEC §1). */
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
