import { isIPv4, isIPv6 } from 'node:net';

/**
 * What identifies "the same client" for the new-client alert: the user-agent family (the product
 * token before '/', so version bumps do not alert) and the network (/24 for IPv4, /48 for IPv6,
 * so DHCP churn inside an office or VPC does not alert).
 */
export function clientFingerprint(userAgent: string | null, ip: string | null): string {
  return `${userAgentFamily(userAgent)} ${networkOf(ip)}`;
}

export function userAgentFamily(userAgent: string | null): string {
  const first = userAgent?.trim().split(/[\s/]/, 1)[0] ?? '';
  return first === '' ? 'unknown-agent' : first.slice(0, 64);
}

export function networkOf(ip: string | null): string {
  if (!ip) return 'unknown-network';
  let addr = ip.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped?.[1]) addr = mapped[1];
  if (isIPv4(addr)) {
    const [a, b, c] = addr.split('.');
    return `${a}.${b}.${c}.0/24`;
  }
  if (isIPv6(addr)) return `${expandIPv6(addr).slice(0, 3).join(':')}::/48`;
  return 'unknown-network';
}

/** The eight hextets of an IPv6 address, without leading zeros (zone ids dropped). */
function expandIPv6(addr: string): string[] {
  const plain = addr.split('%')[0] ?? addr;
  const [head = '', tail] = plain.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...fill, ...right].map((h) => (Number.parseInt(h, 16) || 0).toString(16));
}
