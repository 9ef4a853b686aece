import type { KeyConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { DisableRecord } from '../store/types.js';
import { formatLocal, previousDay } from '../windows/calendar.js';

/**
 * Refuses a key that is disabled (in keys.yaml, or from Slack / the admin API) or expired, with
 * who did it and how it can be lifted. A file disable is reported first: only a pull request lifts it.
 */
export function checkKeyUsable(
  key: KeyConfig,
  override: DisableRecord | undefined,
  now: number,
  timeZone: string,
): void {
  if (key.disabled) {
    throw new GatewayError(
      'key_disabled',
      `key '${key.name}' is disabled in keys.yaml; only a change to keys.yaml (a pull request setting disabled: false) can re-enable it.`,
    );
  }
  if (override) {
    const where =
      override.source === 'circuit_breaker'
        ? "by tollgate's circuit breaker"
        : `${{ slack: 'from Slack', admin_api: 'through the admin API', dashboard: 'from the dashboard' }[override.source]} by ${override.by}`;
    const lift =
      override.source === 'admin_api' || override.source === 'dashboard'
        ? `an admin can lift it with POST /admin/keys/${key.name}/enable`
        : `a Slack admin can lift it with /enable-key ${key.name}`;
    const reason = override.reason ? ` (reason: ${override.reason})` : '';
    throw new GatewayError(
      'key_disabled',
      `key '${key.name}' was disabled ${where} at ${formatLocal(override.at, timeZone)}${reason}; ${lift}.`,
    );
  }
  if (key.expiresAt !== undefined && now >= key.expiresAt) {
    // `expires` is the last day the key works; fall back to the day before the cut-off instant.
    const lastDay = key.expires ?? previousDay(formatLocal(key.expiresAt, timeZone).slice(0, 10));
    const owner = key.owner ? ` (${key.owner})` : '';
    throw new GatewayError(
      'key_expired',
      `key '${key.name}' expired at the end of ${lastDay} (${timeZone}); ask its owner${owner} to move 'expires' in keys.yaml or to mint a new key.`,
    );
  }
}
