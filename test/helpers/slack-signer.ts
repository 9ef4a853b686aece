import { createHmac } from 'node:crypto';

/** Headers Slack sends with a request: `v0=` HMAC-SHA256 of `v0:<timestamp>:<body>` with the signing secret. */
export function slackHeaders(
  secret: string,
  body: string,
  timestampSec: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestampSec}:${body}`).digest('hex')}`;
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestampSec),
    'x-slack-signature': signature,
  };
}

/** The form body of a slash command. */
export function slashCommandBody(c: {
  command: string;
  text?: string;
  userId: string;
  channelId?: string;
  responseUrl: string;
}): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T1',
    team_domain: 'acme',
    channel_id: c.channelId ?? 'C0CMD',
    channel_name: 'ops',
    user_id: c.userId,
    user_name: c.userId.toLowerCase(),
    command: c.command,
    text: c.text ?? '',
    api_app_id: 'A1',
    response_url: c.responseUrl,
    trigger_id: '1.2.3',
  }).toString();
}

/** The form body of a `block_actions` click on a button (`payload=<json>`). */
export function blockActionBody(a: {
  actionId: string;
  value: string;
  userId: string;
  channelId?: string;
  responseUrl: string;
}): string {
  const payload = {
    type: 'block_actions',
    team: { id: 'T1', domain: 'acme' },
    user: { id: a.userId, username: a.userId.toLowerCase(), team_id: 'T1' },
    api_app_id: 'A1',
    token: 'deprecated-verification-token',
    trigger_id: '1.2.3',
    channel: { id: a.channelId ?? 'C0ALERTS', name: 'alerts' },
    message: { type: 'message', ts: '1700000000.000100', text: 'alert' },
    container: { type: 'message', message_ts: '1700000000.000100', channel_id: a.channelId ?? 'C0ALERTS' },
    response_url: a.responseUrl,
    actions: [
      {
        type: 'button',
        action_id: a.actionId,
        block_id: 'b1',
        text: { type: 'plain_text', text: 'Disable key' },
        value: a.value,
        action_ts: '1700000001.000200',
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
