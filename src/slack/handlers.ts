import type { App, BlockAction, ButtonAction, RespondArguments } from '@slack/bolt';
import { DISABLE_KEY_ACTION } from './alert-messages.js';
import { ENABLE_KEY_ACTION } from './breaker-alert.js';
import { disableKey, enableKey, type KillCommandDeps, type SlackReply } from './kill-commands.js';
import { keysReport, type ReportDeps, spendReport } from './spend-report.js';

/** Answers a command or button through its response_url (masked, failures logged). */
export type Answer = (
  respond: (r: RespondArguments) => Promise<unknown>,
  reply: SlackReply | string,
) => Promise<void>;
/** Posts a kill switch's announcement to slack.channel, unless it was answered there already. */
export type Announce = (text: string | undefined, answeredIn: string | undefined) => void;

/**
 * The slash commands (/disable-key, /enable-key, /spend, /keys), the alerts' buttons and the
 * events the manifest subscribes to. Every handler acks first (Slack wants an answer within 3 s
 * even when the store is slow) and then answers through response_url.
 */
export function registerHandlers(
  app: App,
  deps: KillCommandDeps & ReportDeps,
  answer: Answer,
  announce: Announce,
): void {
  const log = deps.log;
  const killDeps: KillCommandDeps = { ...deps };
  for (const [name, run] of [
    ['/disable-key', disableKey],
    ['/enable-key', enableKey],
  ] as const) {
    app.command(name, async ({ command, ack, respond }) => {
      await ack();
      const r = await run(killDeps, {
        userId: command.user_id,
        text: command.text,
        channelId: command.channel_id,
        via: 'command',
      });
      await answer(respond, r.reply);
      announce(r.announcement, command.channel_id);
    });
  }
  const report = async (build: () => Promise<string>): Promise<string> => {
    try {
      return await build();
    } catch (err) {
      log.error({ err }, 'a Slack report failed');
      return 'The store cannot be reached right now; try again in a moment.';
    }
  };
  app.command('/spend', async ({ command, ack, respond }) => {
    await ack();
    await answer(respond, await report(() => spendReport(deps, command.text)));
  });
  app.command('/keys', async ({ ack, respond }) => {
    await ack();
    await answer(respond, await report(() => keysReport(deps)));
  });
  // The alerts' buttons: Disable key (budget, spike, new client) and Enable key (circuit breaker).
  // Each works exactly like its slash command, admin check and audit included.
  for (const [actionId, run] of [
    [DISABLE_KEY_ACTION, disableKey],
    [ENABLE_KEY_ACTION, enableKey],
  ] as const) {
    app.action<BlockAction<ButtonAction>>({ action_id: actionId }, async ({ ack, body, action, respond }) => {
      await ack();
      const channelId = body.channel?.id;
      const r = await run(killDeps, {
        userId: body.user.id,
        text: action.value ?? '',
        ...(channelId ? { channelId } : {}),
        via: 'button',
      });
      await answer(respond, { ...r.reply, replace_original: false });
      announce(r.announcement, channelId);
    });
  }

  // Subscribed in the manifest so an uninstall is visible in the logs rather than as silent alert failures.
  app.event('app_uninstalled', async () => {
    log.error(
      'the Slack app was uninstalled: alerts, the digest and the commands stop until it is reinstalled',
    );
  });
  app.event('tokens_revoked', async () => {
    log.error('Slack revoked the bot token: set a new SLACK_BOT_TOKEN and restart');
  });
}
