import ipaddr from 'ipaddr.js';

export type IpRange = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Parses a CIDR (or a bare address, as a /32 or /128); throws on anything else,
 * including IPv4 shorthand and octal forms ("10.1", "010.0.0.1" is 8.0.0.1) and IPv6
 * zone ids, which would silently allow another address than the one written.
 */
export function parseRange(cidr: string): IpRange {
  const text = cidr.split('/')[0]!;
  if (!ipaddr.IPv4.isValidFourPartDecimal(text) && !(ipaddr.IPv6.isValid(text) && !text.includes('%'))) {
    throw new Error(`not an IPv4 or IPv6 address: ${text}`);
  }
  if (cidr.includes('/')) return ipaddr.parseCIDR(cidr);
  const address = ipaddr.parse(cidr);
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}

export function isValidRange(cidr: string): boolean {
  try {
    parseRange(cidr);
    return true;
  } catch {
    return false;
  }
}

/** The canonical text of a range, as stored: network address and prefix length. */
export function normalizeRange(cidr: string): string {
  const [address, bits] = parseRange(cidr);
  const network = address.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`);
  return `${network.toString()}/${bits}`;
}

/** True when the address falls in one of the ranges; IPv4-mapped IPv6 addresses count as IPv4. */
export function addressAllowed(address: string, ranges: readonly IpRange[]): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address);
  return ranges.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits));
}
