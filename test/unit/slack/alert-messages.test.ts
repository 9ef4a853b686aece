import { describe, expect, it } from 'vitest';
import { newClientAlert, refusedAlert } from '../../../src/slack/alert-messages.js';
import { mentions } from '../../../src/slack/format.js';

describe('alert messages', () => {
  it('escapes client-supplied text so a user-agent cannot ping the whole channel', () => {
    const m = refusedAlert({
      key: 'cursor-dev',
      notify: [],
      code: 'key_expired',
      attempts: 2,
      sinceSec: 60,
      userAgents: ['<!channel> evil'],
      networks: ['10.0.0.0/24'],
    });
    expect(m.text).not.toContain('<!channel>');
    expect(m.text).toContain('&lt;!channel&gt; evil');
    expect(m.text).toContain('is expired but still being tried');
  });

  it('mentions only well-formed Slack user ids', () => {
    expect(mentions(['U01ALICE', 'W02BOB', 'alice', '<!here>'])).toBe('<@U01ALICE> <@W02BOB>');
  });

  it('puts a confirmable Disable key button carrying the key name on a new-client alert', () => {
    const m = newClientAlert({
      key: 'ci-bot',
      notify: ['U1'],
      userAgentFamily: 'curl',
      network: '1.2.3.0/24',
      knownBefore: 2,
    });
    const actions = m.blocks[1] as { elements: { action_id: string; value: string; confirm?: unknown }[] };
    expect(actions.elements[0]).toMatchObject({ action_id: 'disable_key', value: 'ci-bot' });
    expect(actions.elements[0]?.confirm).toBeDefined();
  });
});
