import type { Config, KeyConfig } from '../config/types.js';
import { servedModelIds } from '../policy/model-access.js';

/**
 * `GET /v1/models` for one key: the configured models its allow-list matches, and for a glob
 * entry the catalog models it serves. One body serves both SDKs: OpenAI's list fields (`object`,
 * `owned_by`) and Anthropic's (`type`, `display_name`, `has_more`), each ignoring the other's.
 */
export function modelsList(config: Config, key: KeyConfig): unknown {
  const data = servedModelIds(config, key).map(({ id, upstream }) => ({
    id,
    object: 'model',
    created: 0,
    owned_by: upstream,
    type: 'model',
    display_name: id,
    created_at: '1970-01-01T00:00:00Z',
  }));
  return {
    object: 'list',
    data,
    has_more: false,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  };
}
