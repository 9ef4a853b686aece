import type { Clock } from '../clock.js';
import type { ConfigStatus } from '../config/reload/manager.js';
import type { ConfigHolder } from '../config/types.js';
import type { FindingsCache } from '../insights/findings-cache.js';
import type { Logger } from '../log.js';
import type { DisableView } from '../policy/disables.js';
import type { KillSwitch } from '../policy/kill-switch.js';
import type { BillCheckStore } from '../store/bill-check-types.js';
import type { InsightStore } from '../store/insight-types.js';
import type { AuditStore, SessionStore, SpendReader, UsageStore } from '../store/types.js';

export interface DashboardDeps {
  /** TOLLGATE_ADMIN_TOKEN: may also disable and enable keys. */
  adminToken?: string | undefined;
  /** TOLLGATE_DASHBOARD_TOKEN: read-only. */
  viewerToken?: string | undefined;
  config: ConfigHolder & { status(): ConfigStatus };
  /** Reads for the pages and the CSV, and the audit of refused actions. */
  store: SpendReader &
    UsageStore &
    SessionStore &
    InsightStore &
    Pick<AuditStore, 'audit' | 'keyAudit'> &
    Pick<BillCheckStore, 'billChecks'>;
  disables: DisableView;
  /** The findings shared with Slack's /spend (insights/findings-cache.ts); its own otherwise. */
  findings?: FindingsCache;
  killSwitch: KillSwitch;
  clock: Clock;
  log: Logger;
  /** Posts to slack.channel (as a Slack disable's announcement is); absent without Slack. */
  announce?: ((text: string) => void) | undefined;
  /** Session lifetime; 8 hours by default. */
  sessionTtlMs?: number;
}
