import { disableAnnouncement, enableAnnouncement } from '../slack/kill-commands.js';
import type { DashboardDeps } from './deps.js';
import type { Session } from './session.js';

/** Who the audit log and Slack name: the dashboard knows a token, not a person. */
export const DASHBOARD_ADMIN = 'dashboard admin';
const DASHBOARD_VIEWER = 'dashboard viewer';

export interface ActionResult {
  status: number;
  ok: boolean;
  message: string;
}

/**
 * The dashboard's Disable and Enable buttons: the same kill switch as /disable-key and
 * /enable-key (audited, refreshed before answering, unable to widen what keys.yaml allows), and
 * the same announcement in the Slack channel. A viewer is refused, and the refusal is audited
 * like a non-admin's slash command.
 */
export async function runKillSwitch(
  deps: DashboardDeps,
  session: Session,
  verb: 'disable' | 'enable',
  name: string,
  typedReason: string,
): Promise<ActionResult> {
  if (session.role !== 'admin') {
    await deps.store
      .audit({
        at: deps.clock(),
        actor: DASHBOARD_VIEWER,
        source: 'dashboard',
        action: verb,
        key: name,
        reason: typedReason || null,
        result: 'refused: not an admin',
      })
      .catch((err: unknown) => deps.log.warn({ err }, 'could not audit a refused dashboard action'));
    return {
      status: 403,
      ok: false,
      message: 'Viewers cannot disable or enable keys; sign in with the admin token.',
    };
  }
  if (verb === 'disable') {
    const reason = typedReason.trim() || 'Disable button on the dashboard';
    const r = await deps.killSwitch.disable(name, { reason, actor: DASHBOARD_ADMIN, source: 'dashboard' });
    if (!r.ok || !r.changed) return { status: r.ok ? 200 : 404, ok: r.ok, message: r.message };
    deps.announce?.(disableAnnouncement(DASHBOARD_ADMIN, name, reason));
    return {
      status: 200,
      ok: true,
      message: `Key '${name}' is disabled: clients using it now get 401 key_disabled on every replica. ${
        deps.announce ? 'Announced in Slack. ' : ''
      }To make it permanent, set disabled: true in keys.yaml.`,
    };
  }
  const r = await deps.killSwitch.enable(name, { actor: DASHBOARD_ADMIN, source: 'dashboard' });
  if (!r.ok || !r.changed) return { status: r.ok ? 200 : 409, ok: r.ok, message: r.message };
  deps.announce?.(enableAnnouncement(DASHBOARD_ADMIN, name));
  return {
    status: 200,
    ok: true,
    message: `Key '${name}' is enabled again; clients can use it right away.${deps.announce ? ' Announced in Slack.' : ''}`,
  };
}
