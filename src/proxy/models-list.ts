import type { Config, KeyConfig } from '../config/types.js';
import { servedModelIds } from '../policy/model-access.js';

/**
 * `GET /v1/models` for one key: the configured models its allow-list matches, and for a glob
 * entry the catalog models it serves. One body serves both SDKs: OpenAI's list fields (`object`,
 * `owned_by`) and Anthropic's (`type`, `display_name`, `has_more`), each ignoring the other's.
 *
 * Codex asks `GET /v1/models?client_version=…` for its own catalog and fails to decode a body
 * without a top-level `models` array. An empty one makes it fall back to the model metadata it
 * ships with, which is right: the gateway does not know Codex's per-model capabilities.
 */
export function modelsList(config: Config, key: KeyConfig, rawUrl = ''): unknown {
  const data = servedModelIds(config, key).map(({ id, upstream }) => ({
    id,
    object: 'model',
    created: 0,
    owned_by: upstream,
    type: 'model',
    display_name: id,
    created_at: '1970-01-01T00:00:00Z',
  }));
  const list = {
    object: 'list',
    data,
    has_more: false,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  };
  return asksForCodexCatalog(rawUrl) ? { ...list, models: [] } : list;
}

function asksForCodexCatalog(rawUrl: string): boolean {
  const q = rawUrl.indexOf('?');
  return q >= 0 && new URLSearchParams(rawUrl.slice(q + 1)).has('client_version');
}
