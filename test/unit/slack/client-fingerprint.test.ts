import { describe, expect, it } from 'vitest';
import { clientFingerprint, networkOf, userAgentFamily } from '../../../src/slack/client-fingerprint.js';

describe('client fingerprint', () => {
  it('keeps only the product token of the user-agent, so version bumps are the same client', () => {
    expect(userAgentFamily('OpenAI/Python 1.51.0')).toBe('OpenAI');
    expect(userAgentFamily('claude-cli/1.0.3 (external, cli)')).toBe('claude-cli');
    expect(userAgentFamily('curl/8.5.0')).toBe('curl');
    expect(userAgentFamily(null)).toBe('unknown-agent');
    expect(userAgentFamily('  ')).toBe('unknown-agent');
  });

  it('groups IPv4 addresses by /24 and IPv6 addresses by /48', () => {
    expect(networkOf('10.1.2.3')).toBe('10.1.2.0/24');
    expect(networkOf('::ffff:192.168.7.42')).toBe('192.168.7.0/24');
    expect(networkOf('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48');
    expect(networkOf('2001:db8::1')).toBe('2001:db8:0::/48');
    expect(networkOf('::1')).toBe('0:0:0::/48');
    expect(networkOf(null)).toBe('unknown-network');
    expect(networkOf('not-an-ip')).toBe('unknown-network');
  });

  it('combines both into one fingerprint', () => {
    expect(clientFingerprint('Cursor/0.42', '10.1.2.3')).toBe('Cursor 10.1.2.0/24');
    expect(clientFingerprint('Cursor/0.43', '10.1.2.200')).toBe(clientFingerprint('Cursor/0.42', '10.1.2.3'));
  });
});
