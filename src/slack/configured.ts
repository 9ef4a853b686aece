/**
 * What keeps Slack off, from the environment alone: `SLACK_BOT_TOKEN` and one of
 * `SLACK_SIGNING_SECRET` (HTTP mode) or `SLACK_APP_TOKEN` (Socket Mode). Apart from app.ts so
 * that a gateway without Slack never loads Bolt (it and its dependencies took about 10 MB of a
 * process that runs without them).
 */
export function slackMissing(env: NodeJS.ProcessEnv): string | null {
  const token = env.SLACK_BOT_TOKEN?.trim();
  const socketMode = Boolean(env.SLACK_APP_TOKEN?.trim());
  const signingSecret = env.SLACK_SIGNING_SECRET?.trim();
  if (token && (socketMode || signingSecret)) return null;
  const missing = [!token && 'SLACK_BOT_TOKEN', !socketMode && !signingSecret && 'SLACK_SIGNING_SECRET']
    .filter(Boolean)
    .join(' and ');
  return `Slack is not configured: ${missing} not set; running without Slack commands and alerts.`;
}
