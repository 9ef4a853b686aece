import { type Logger as BoltLogger, LogLevel, webApi } from '@slack/bolt';
import type { Logger } from '../log.js';

export type SlackWebClient = InstanceType<typeof webApi.WebClient>;

export interface SlackClientOptions {
  /** Per-call timeout; a hanging Slack must not hold a caller forever. Default 10 s. */
  timeoutMs?: number;
  /** Retries inside the client; the alert queue does its own, so it passes 0. Default 2. */
  retries?: number;
  log?: Logger;
}

/** `SLACK_API_URL` with the trailing slash the Web API client expects; Slack's own URL by default. */
export function slackApiUrl(env: NodeJS.ProcessEnv): string {
  const url = env.SLACK_API_URL?.trim() || 'https://slack.com/api/';
  return url.endsWith('/') ? url : `${url}/`;
}

/**
 * The Web API client for posting (alerts, announcements, the digest), or null when
 * SLACK_BOT_TOKEN is not set. SLACK_API_URL points it at another base (tests use a fake Slack).
 */
export function createSlackWebClient(
  env: NodeJS.ProcessEnv,
  options: SlackClientOptions = {},
): SlackWebClient | null {
  const token = env.SLACK_BOT_TOKEN?.trim();
  if (!token) return null;
  return new webApi.WebClient(token, {
    slackApiUrl: slackApiUrl(env),
    timeout: options.timeoutMs ?? 10_000,
    retryConfig: { retries: options.retries ?? 2, factor: 2, minTimeout: 500, maxTimeout: 5_000 },
    // The default retry policy waits out rate limits for up to 30 minutes: fail fast instead.
    rejectRateLimitedCalls: true,
    logger: toBoltLogger(options.log),
  });
}

/** Adapts pino to the @slack/logger interface so Bolt and the client log as JSON, not to the console. */
export function toBoltLogger(log: Logger | undefined, name = 'slack'): BoltLogger {
  let level: LogLevel = LogLevel.WARN;
  const child = log?.child({ component: name });
  const emit = (method: 'debug' | 'info' | 'warn' | 'error', msgs: unknown[]) => {
    if (!child) return;
    child[method](msgs.map((m) => (m instanceof Error ? m.message : String(m))).join(' '));
  };
  return {
    debug: (...msgs) => emit('debug', msgs),
    info: (...msgs) => emit('info', msgs),
    warn: (...msgs) => emit('warn', msgs),
    error: (...msgs) => emit('error', msgs),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
