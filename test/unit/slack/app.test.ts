import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../../src/log.js';
import type { DisableView } from '../../../src/policy/disables.js';
import type { KillSwitch } from '../../../src/policy/kill-switch.js';
import { createSlack, type SlackStore } from '../../../src/slack/app.js';
import { createSlackWebClient, slackApiUrl } from '../../../src/slack/client.js';
import { holderOf, slackTestConfig } from '../../helpers/slack-config.js';

function deps(env: NodeJS.ProcessEnv, log = silentLogger()) {
  return {
    env,
    config: holderOf(slackTestConfig()),
    store: {} as SlackStore,
    disables: {} as DisableView,
    killSwitch: {} as KillSwitch,
    clock: () => 0,
    log,
  };
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: createLogger({ level: 'info', destination }) };
}

describe('createSlack', () => {
  it('returns null and says once why when Slack is not configured', () => {
    const { lines, log } = capture();
    expect(createSlack(deps({}, log))).toBeNull();
    expect(createSlack(deps({ SLACK_BOT_TOKEN: 'xoxb-1' }, log))).toBeNull();
    expect(lines.map((l) => l.msg)).toEqual([
      'Slack is not configured: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET not set; running without Slack commands and alerts.',
      'Slack is not configured: SLACK_SIGNING_SECRET not set; running without Slack commands and alerts.',
    ]);
  });

  it('uses HTTP mode with a bot token and signing secret', () => {
    expect(createSlack(deps({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }))?.mode).toBe('http');
  });

  it('uses Socket Mode when SLACK_APP_TOKEN is set, without needing a signing secret', () => {
    expect(createSlack(deps({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }))?.mode).toBe('socket');
  });
});

describe('createSlackWebClient', () => {
  it('is null without SLACK_BOT_TOKEN', () => {
    expect(createSlackWebClient({})).toBeNull();
  });

  it('points at SLACK_API_URL with the trailing slash the client needs', () => {
    expect(slackApiUrl({ SLACK_API_URL: 'http://127.0.0.1:9/api' })).toBe('http://127.0.0.1:9/api/');
    expect(slackApiUrl({})).toBe('https://slack.com/api/');
    expect(
      createSlackWebClient({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_API_URL: 'http://127.0.0.1:9/api/' })
        ?.slackApiUrl,
    ).toBe('http://127.0.0.1:9/api/');
  });
});
