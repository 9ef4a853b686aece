import { App, ExpressReceiver, type RespondArguments, SocketModeReceiver } from '@slack/bolt';
import express, { type RequestHandler } from 'express';
import type { Clock } from '../clock.js';
import type { ConfigHolder } from '../config/types.js';
import type { FindingsCache } from '../insights/findings-cache.js';
import type { InsightReader } from '../insights/read-period.js';
import { maskDeep } from '../keys/mask-secrets.js';
import type { Logger } from '../log.js';
import type { DisableView } from '../policy/disables.js';
import type { KillSwitch } from '../policy/kill-switch.js';
import type { AuditStore, ClaimStore, ClientStore, SpendReader, UsageStore } from '../store/types.js';
import { createSlackWebClient, slackApiUrl, toBoltLogger } from './client.js';
import { slackMissing } from './configured.js';
import { registerHandlers } from './handlers.js';
import type { SlackReply } from './kill-commands.js';
import { createSlackNotifier, type SlackNotifier, type SlackNotifierOptions } from './notifier.js';
import { createRequestGuard } from './request-guard.js';
import { createSendQueue, type SendQueueOptions } from './send-queue.js';

export const SLACK_EVENTS_PATH = '/slack/events';

/** What Slack uses of the store: alert and replay claims, clients, spend, the audit of commands. */
export type SlackStore = ClaimStore &
  ClientStore &
  SpendReader &
  Pick<UsageStore, 'spendBetween'> &
  Pick<AuditStore, 'audit'> &
  InsightReader;

export interface SlackDeps {
  env: NodeJS.ProcessEnv;
  config: ConfigHolder;
  store: SlackStore;
  disables: DisableView;
  killSwitch: KillSwitch;
  clock: Clock;
  log: Logger;
  /** Masks keys in everything posted (keys/mask-secrets.ts): a key typed into a reason or sent as a user-agent. */
  mask?: <T>(value: T) => T;
  /** The findings shared with the dashboard (insights/findings-cache.ts), for /spend NAME. */
  findings?: FindingsCache;
  /** Tuning for tests: alert thresholds and timings, queue backoff. */
  notifierOptions?: SlackNotifierOptions;
  queueOptions?: Omit<SendQueueOptions, 'send' | 'log'>;
}

export interface SlackIntegration {
  /** Mount with `app.use(slack.router)`: POST /slack/events (does nothing in Socket Mode). */
  router: RequestHandler;
  notifier: SlackNotifier;
  /** Queues a message for slack.channel (dropped when none is set): the dashboard's kill-switch announcements. */
  announce(text: string): void;
  /** Posts now (to slack.channel unless given) and throws when Slack refuses: for the digest. */
  post(msg: { channel?: string; text: string; blocks?: unknown[] }): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  mode: 'http' | 'socket';
}

/**
 * The Slack chat-ops (docs/slack.md#commands): slash commands and the Disable button through Bolt (HTTP mode
 * behind our replay/clock guard, or Socket Mode), and alerts through a background queue.
 * Returns null when Slack is not configured; the gateway then runs without it.
 */
export function createSlack(deps: SlackDeps): SlackIntegration | null {
  const { env, config, log } = deps;
  const mask = deps.mask ?? ((v) => maskDeep(v));
  const token = env.SLACK_BOT_TOKEN?.trim();
  const signingSecret = env.SLACK_SIGNING_SECRET?.trim();
  const appToken = env.SLACK_APP_TOKEN?.trim();
  const socketMode = Boolean(appToken);
  const missing = slackMissing(env);
  if (missing !== null || !token) {
    log.info(missing);
    return null;
  }

  // Alerts retry in the queue, so their client does not retry on its own; post() (the digest) does.
  const queueClient = createSlackWebClient(env, { retries: 0, log })!;
  const postClient = createSlackWebClient(env, { log })!;
  const queue = createSendQueue({
    ...deps.queueOptions,
    log,
    send: async (sent) => {
      const msg = mask(sent);
      await queueClient.chat.postMessage({ channel: msg.channel, text: msg.text, ...blocksOf(msg.blocks) });
    },
  });
  const notifier = createSlackNotifier({
    store: deps.store,
    config,
    clock: deps.clock,
    log,
    queue,
    killSwitch: deps.killSwitch,
    ...(deps.notifierOptions ? { options: deps.notifierOptions } : {}),
  });

  const logger = toBoltLogger(log, 'bolt');
  const router = express.Router();
  const receiver = socketMode
    ? new SocketModeReceiver({
        appToken: appToken!,
        logger,
        installerOptions: { clientOptions: { slackApiUrl: slackApiUrl(env) } },
      })
    : new ExpressReceiver({
        signingSecret: signingSecret!,
        endpoints: SLACK_EVENTS_PATH,
        logger,
        // Our guard runs first on the same route; Bolt's receiver adds its handlers after it.
        router: guarded(router, createRequestGuard({ signingSecret: signingSecret!, ...deps })),
        processBeforeResponse: false,
      });
  // A fixed authorize instead of `token`: Bolt would otherwise call auth.test once at start and,
  // if Slack was down then, fail every later command on the cached rejection.
  const app = new App({
    receiver,
    authorize: async () => ({ botToken: token }),
    logger,
    clientOptions: { slackApiUrl: slackApiUrl(env) },
  });
  app.error(async (err) => {
    log.warn({ err: err.message }, 'a Slack handler failed');
  });

  const answer = async (respond: (r: RespondArguments) => Promise<unknown>, reply: SlackReply | string) => {
    const args: RespondArguments = mask(
      typeof reply === 'string' ? { response_type: 'ephemeral', text: reply } : reply,
    );
    await respond(args).catch((err: unknown) =>
      log.warn({ err: String(err) }, 'could not answer a Slack command'),
    );
  };
  const announce = (text: string | undefined, answeredIn: string | undefined) => {
    const channel = config.current().config.slack?.channel;
    if (text && channel && channel !== answeredIn) queue.enqueue({ channel, text });
  };
  registerHandlers(app, deps, answer, announce);

  return {
    router,
    notifier,
    mode: socketMode ? 'socket' : 'http',
    announce: (text) => announce(text, undefined),
    async post(posted) {
      const msg = mask(posted);
      const channel = msg.channel ?? config.current().config.slack?.channel;
      if (!channel) throw new Error('no Slack channel: set slack.channel in keys.yaml');
      await postClient.chat.postMessage({ channel, text: msg.text, ...blocksOf(msg.blocks) });
    },
    async start() {
      if (socketMode) {
        // A Slack outage at start must not stop the gateway; the socket client reconnects on its own.
        await app
          .start()
          .catch((err: unknown) => log.error({ err: String(err) }, 'Slack Socket Mode could not connect'));
      }
      log.info({ mode: socketMode ? 'socket' : 'http' }, 'Slack commands and alerts are on');
    },
    async stop() {
      // Give queued alerts a moment to go out, then drop the rest.
      await Promise.race([notifier.flush(), new Promise((r) => setTimeout(r, 2_000).unref())]);
      notifier.stop();
      if (socketMode) await app.stop().catch(() => {});
    },
  };
}

function guarded(router: express.Router, guard: RequestHandler): express.Router {
  router.post(SLACK_EVENTS_PATH, guard);
  return router;
}

function blocksOf(blocks: unknown[] | undefined): { blocks?: never[] } {
  // Block Kit JSON is built by hand in alert-messages.ts; the client's block types are stricter
  // than what is worth restating here.
  return blocks ? { blocks: blocks as never[] } : {};
}
