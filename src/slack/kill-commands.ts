import type { Clock } from '../clock.js';
import type { ConfigHolder } from '../config/types.js';
import type { Logger } from '../log.js';
import type { KillSwitch } from '../policy/kill-switch.js';
import type { AuditStore } from '../store/types.js';
import { escapeMrkdwn, userMention } from './format.js';

export interface SlackReply {
  response_type: 'ephemeral' | 'in_channel';
  text: string;
  /** For button clicks: keep the alert and post the answer below it. */
  replace_original?: boolean;
}

export interface KillCommandDeps {
  config: ConfigHolder;
  store: Pick<AuditStore, 'audit'>;
  killSwitch: KillSwitch;
  clock: Clock;
  log: Logger;
}

export interface Invocation {
  userId: string;
  /** What the user typed after the command: `NAME [reason]`. */
  text: string;
  /** Where it was typed (or the alert's channel for a button). */
  channelId?: string;
  via: 'command' | 'button';
}

const ephemeral = (text: string): SlackReply => ({ response_type: 'ephemeral', text });

function isAdmin(deps: KillCommandDeps, userId: string): boolean {
  return deps.config.current().config.slack?.admins.includes(userId) ?? false;
}

function parse(text: string): { name: string; reason: string } {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  if (space === -1) return { name: trimmed, reason: '' };
  return { name: trimmed.slice(0, space), reason: trimmed.slice(space + 1).trim() };
}

async function refuseNonAdmin(
  deps: KillCommandDeps,
  inv: Invocation,
  action: string,
  name: string,
  reason: string,
) {
  // A refusal is audited too: someone trying to flip keys without the right is worth knowing about.
  await deps.store
    .audit({
      at: deps.clock(),
      actor: inv.userId,
      source: 'slack',
      action,
      key: name || null,
      reason: reason || null,
      result: 'refused: not an admin',
    })
    .catch((err: unknown) => deps.log.warn({ err }, 'could not audit a refused Slack command'));
  return ephemeral(
    `Only the admins listed in keys.yaml (\`slack.admins\`) can ${action} keys; nothing changed. Ask one of them, or open a pull request.`,
  );
}

/**
 * /disable-key and the **Disable key** button. Returns the reply to the user and, on success, the
 * announcement for the alert channel (posted by the caller when that is not where the reply goes).
 */
export async function disableKey(
  deps: KillCommandDeps,
  inv: Invocation,
): Promise<{ reply: SlackReply; announcement?: string }> {
  const { name, reason: typedReason } = parse(inv.text);
  if (!name) return { reply: ephemeral('Usage: `/disable-key NAME [reason]`. `/keys` lists the names.') };
  if (!isAdmin(deps, inv.userId))
    return { reply: await refuseNonAdmin(deps, inv, 'disable', name, typedReason) };
  const reason =
    typedReason || (inv.via === 'button' ? 'Disable key button on a Slack alert' : 'no reason given');
  const r = await run(deps, () =>
    deps.killSwitch.disable(name, { reason, actor: inv.userId, source: 'slack' }),
  );
  if ('error' in r) return { reply: ephemeral(r.error) };
  // Kill-switch messages quote what the admin typed (an unknown name) and stored reasons: escaped,
  // so `/disable-key <!channel>` cannot ping the channel from the reply.
  if (!r.ok || !r.changed) return { reply: ephemeral(escapeMrkdwn(r.message)) };
  const text = disableAnnouncement(userMention(inv.userId), name, reason);
  return { reply: { response_type: 'in_channel', text, replace_original: false }, announcement: text };
}

/** /enable-key: lifts a Slack/admin-API disable only; keys.yaml and expiry always win. */
export async function enableKey(
  deps: KillCommandDeps,
  inv: Invocation,
): Promise<{ reply: SlackReply; announcement?: string }> {
  const { name } = parse(inv.text);
  if (!name) return { reply: ephemeral('Usage: `/enable-key NAME`. `/keys` lists the names.') };
  if (!isAdmin(deps, inv.userId)) return { reply: await refuseNonAdmin(deps, inv, 'enable', name, '') };
  const r = await run(deps, () => deps.killSwitch.enable(name, { actor: inv.userId, source: 'slack' }));
  if ('error' in r) return { reply: ephemeral(r.error) };
  if (!r.ok || !r.changed) return { reply: ephemeral(escapeMrkdwn(r.message)) };
  const text = enableAnnouncement(userMention(inv.userId), name);
  return { reply: { response_type: 'in_channel', text }, announcement: text };
}

/** The channel's message for a disable, from Slack or the dashboard alike; `who` is mrkdwn already. */
export function disableAnnouncement(who: string, name: string, reason: string): string {
  return (
    `:octagonal_sign: ${who} disabled key \`${name}\`: ${escapeMrkdwn(reason)}.\n` +
    `Clients using it now get \`401 key_disabled\` on every replica. Undo with \`/enable-key ${name}\`; ` +
    `to make it permanent, set \`disabled: true\` for \`${name}\` in keys.yaml.`
  );
}

export function enableAnnouncement(who: string, name: string): string {
  return `:white_check_mark: ${who} enabled key \`${name}\` again; clients can use it right away.`;
}

async function run<T>(deps: KillCommandDeps, fn: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await fn();
  } catch (err) {
    deps.log.error({ err }, 'a Slack key command failed');
    return { error: 'The store cannot be reached right now, so nothing changed. Try again in a moment.' };
  }
}
