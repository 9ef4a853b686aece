import { modelAllowed } from '../config/model-globs.js';
import { ownEntry } from '../config/own.js';
import type { Config, KeyConfig, ModelConfig, UpstreamConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { globCatalogIds, resolveModelName } from './model-names.js';

/** One glob definition for validate and the gateway, so what validate accepts is what the gateway allows. */
export function isModelAllowed(key: KeyConfig, model: string): boolean {
  return modelAllowed(key.models, model);
}

/** The configured models this key may use, in config order (glob entries by their glob). */
export function allowedModels(config: Config, key: KeyConfig): ModelConfig[] {
  return Object.values(config.models).filter((m) => isModelAllowed(key, m.name));
}

/**
 * The model names a key may ask for, in config order: each plain entry its allow-list matches,
 * and for each glob entry the catalog's models it serves (their catalog ids), deduplicated.
 */
export function servedModelIds(config: Config, key: KeyConfig): Array<{ id: string; upstream: string }> {
  const seen = new Set<string>();
  const out: Array<{ id: string; upstream: string }> = [];
  const add = (id: string, upstream: string) => {
    if (seen.has(id) || !isModelAllowed(key, id)) return;
    seen.add(id);
    out.push({ id, upstream });
  };
  for (const m of Object.values(config.models)) {
    if (!m.glob) add(m.name, m.upstream);
    else for (const id of globCatalogIds(config, m)) add(id, m.upstream);
  }
  return out;
}

export interface ModelRoute {
  model: ModelConfig;
  upstream: UpstreamConfig;
  /** The upstream's own key, from the environment. */
  upstreamKey: string;
}

/** What a JSON value is, in words, without echoing an object a client sent. */
function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number' || typeof v === 'boolean') return `a ${typeof v} (${String(v)})`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function available(config: Config, key: KeyConfig): string {
  const names = allowedModels(config, key).map((m) => m.name);
  return names.length > 0 ? names.join(', ') : '(none)';
}

/**
 * Resolves the request's `model` to its config and upstream, refusing in the order docs/api.md#errors lists:
 * unknown model, model outside the key's allow-list, then an upstream whose key is not in the environment.
 */
export function resolveModel(
  name: unknown,
  config: Config,
  key: KeyConfig,
  env: NodeJS.ProcessEnv,
  now = 0,
): ModelRoute {
  if (name === undefined || name === null || name === '') {
    throw new GatewayError(
      'invalid_request',
      `the request body has no 'model'; key '${key.name}' may use: ${available(config, key)}.`,
    );
  }
  if (typeof name !== 'string') {
    throw new GatewayError(
      'invalid_request',
      `the request's 'model' must be a string naming a model, not ${jsonType(name)}; key '${key.name}' may use: ${available(config, key)}.`,
    );
  }
  const resolved = resolveModelName(config, name, now);
  if (!resolved.model) {
    throw new GatewayError(
      'model_not_found',
      `${resolved.reason}; key '${key.name}' may use: ${available(config, key)}.`,
    );
  }
  const { model } = resolved;
  // The allow-list applies to the resolved name: the entry, or the catalog's id behind a glob.
  if (!isModelAllowed(key, model.name)) {
    const shown = model.name === name ? `'${name}'` : `'${name}' (${model.name})`;
    throw new GatewayError(
      'model_not_allowed',
      `key '${key.name}' may not use model ${shown}; its allow-list (models: ${(key.models ?? []).join(', ')}) matches: ${available(config, key)}. Widening it takes a change to keys.yaml.`,
    );
  }
  const upstream = ownEntry(config.upstreams, model.upstream);
  if (!upstream) {
    throw new GatewayError(
      'upstream_not_configured',
      `model '${name}' points at upstream '${model.upstream}', which is not configured in keys.yaml.`,
    );
  }
  const upstreamKey = env[upstream.apiKeyEnv];
  if (!upstreamKey) {
    throw new GatewayError(
      'upstream_not_configured',
      `model '${name}' goes to upstream '${upstream.name}', whose API key is not set: set the environment variable ${upstream.apiKeyEnv} where tollgate runs and restart it.`,
    );
  }
  return { model, upstream, upstreamKey };
}
