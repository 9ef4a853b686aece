import type { LoadedConfig } from '../config/types.js';
import { hashKey } from '../keys/format.js';
import { maskSecrets } from '../keys/mask-secrets.js';

/** What the kill switch answers and audits when a key was typed where its name belongs. */
export interface TypedKey {
  /** The audit row's key: the configured key it belongs to (found by hash), else the key masked. */
  auditKey: string;
  auditResult: string;
  message: string;
}

/**
 * A key typed where its name belongs (pasted into /disable-key, the admin API path or the
 * dashboard form) is refused without being stored or echoed whole (docs/api.md#admin-api). The
 * audit row names the key it belongs to, so that key's history shows its secret was typed somewhere.
 * Undefined when `typed` holds no key.
 */
export function typedKey(typed: string, loaded: Pick<LoadedConfig, 'keysByHash'>): TypedKey | undefined {
  const shown = maskSecrets(typed);
  if (shown === typed) return undefined;
  const hash = hashKey(typed.trim());
  const owner = loaded.keysByHash.get(hash)?.name;
  const prefix = hash.slice('sha256:'.length, 'sha256:'.length + 12);
  const which = owner
    ? ` It is the key of '${owner}': use that name.`
    : ' It is not a key in keys.yaml; /keys (or GET /admin/keys) lists the names.';
  return {
    auditKey: owner ?? shown,
    auditResult: owner
      ? `refused: the key itself (${shown}, hash ${prefix}) was typed instead of its name`
      : 'refused: a key was typed instead of a name',
    message: `'${shown}' is a key, not a key name; nothing changed.${which} A key typed in full where others can read it should be rotated ('tollgate keys rotate').`,
  };
}
