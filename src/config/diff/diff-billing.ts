import type { BillingConfig, UpstreamConfig } from '../types.js';
import { type ConfigChange, change } from './diff-change.js';

/**
 * What a change to an upstream's `billing:` section does (docs/bill-check.md). A new admin-key
 * reference is sensitive: it names the most powerful secret the gateway holds. Turning the check
 * off is worth a reviewer's look too, since it hides a leaked upstream key from the digest.
 */

function describe(b: BillingConfig): string {
  const scope = b.projectId ?? b.workspaceId;
  return `api_key_id ${b.apiKeyId}${scope ? `, cost report of ${scope}` : ''}, admin key from \${${b.adminKeyEnv}}`;
}

export function diffBilling(old: UpstreamConfig, now: UpstreamConfig, out: ConfigChange[]): void {
  const name = now.name;
  const a = old.billing;
  const b = now.billing;
  if (!a && !b) return;
  if (!a && b) {
    out.push(change('upstreams', 'upstream-changed', name, 'sensitive', `bill check added: ${describe(b)}`));
    return;
  }
  if (a && !b) {
    out.push(
      change(
        'upstreams',
        'upstream-changed',
        name,
        'sensitive',
        'bill check removed: usage of this upstream key outside tollgate is no longer reported',
      ),
    );
    return;
  }
  if (!a || !b) return;
  if (a.adminKeyEnv !== b.adminKeyEnv) {
    out.push(
      change(
        'upstreams',
        'upstream-changed',
        name,
        'sensitive',
        `billing.admin_key now read from \${${b.adminKeyEnv}} (was \${${a.adminKeyEnv}})`,
      ),
    );
  }
  if (a.apiKeyId !== b.apiKeyId || a.projectId !== b.projectId || a.workspaceId !== b.workspaceId) {
    out.push(
      change(
        'upstreams',
        'upstream-changed',
        name,
        'neutral',
        `bill check now: ${describe(b)} (was ${describe(a)})`,
      ),
    );
  }
}
