import type { KeyConfig } from '../config/types.js';
import type { DisableRecord } from '../store/types.js';

export type KeyStatus = 'active' | 'disabled_in_file' | 'disabled_override' | 'expired';

/**
 * The one answer to "can this key be used right now, and if not, why?" shared by the admin API,
 * Slack's /keys and the digest. A file disable wins over an override: only a pull request lifts it.
 */
export function keyStatus(key: KeyConfig, override: DisableRecord | undefined, now: number): KeyStatus {
  if (key.disabled) return 'disabled_in_file';
  if (override) return 'disabled_override';
  if (key.expiresAt !== undefined && now >= key.expiresAt) return 'expired';
  return 'active';
}
