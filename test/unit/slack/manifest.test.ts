import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Manifest {
  features: { slash_commands: { command: string; url: string }[] };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    event_subscriptions: { request_url: string };
    interactivity: { is_enabled: boolean; request_url: string };
    socket_mode_enabled: boolean;
  };
}

const manifest = parse(
  readFileSync(new URL('../../../config/slack-app-manifest.yaml', import.meta.url), 'utf8'),
) as Manifest;

describe('Slack app manifest', () => {
  it('declares exactly the commands the gateway answers, all on /slack/events', () => {
    const commands = manifest.features.slash_commands;
    expect(commands.map((c) => c.command).sort()).toEqual(['/disable-key', '/enable-key', '/keys', '/spend']);
    for (const c of commands) expect(c.url).toBe('https://YOUR-GATEWAY/slack/events');
  });

  it('asks for the scopes the gateway uses and points interactivity and events at /slack/events', () => {
    expect(manifest.oauth_config.scopes.bot).toEqual(expect.arrayContaining(['chat:write', 'commands']));
    expect(manifest.settings.interactivity).toEqual({
      is_enabled: true,
      request_url: 'https://YOUR-GATEWAY/slack/events',
    });
    expect(manifest.settings.event_subscriptions.request_url).toBe('https://YOUR-GATEWAY/slack/events');
    expect(manifest.settings.socket_mode_enabled).toBe(false);
  });
});
