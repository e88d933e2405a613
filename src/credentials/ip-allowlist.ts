import ipaddr from 'ipaddr.js';
import { comparableAddress, isAddress, isMapped, parseAddress } from '../common/ip-address';

export { comparableAddress, isAddress, parseAddress };

export type IpRange = [ipaddr.IPv4 | ipaddr.IPv6, number];

const PREFIX_LENGTH = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Parses a CIDR (or a bare address, as a /32 or /128) of a canonical address; throws on
 * anything else (see parseAddress), which would silently allow another address than the
 * one written. An IPv4-mapped range (`::ffff:10.0.0.0/104`) is its IPv4 range (`10.0.0.0/8`),
 * as the addresses it is compared with are.
 */
export function parseRange(cidr: string): IpRange {
  const slash = cidr.indexOf('/');
  const text = slash < 0 ? cidr : cidr.slice(0, slash);
  const address = parseAddress(text);
  if (!address) throw new Error(`not an IPv4 or IPv6 address: ${text}`);
  const max = address.kind() === 'ipv4' ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const prefix = cidr.slice(slash + 1);
    if (!PREFIX_LENGTH.test(prefix) || Number(prefix) > max) throw new Error(`not a prefix length: ${prefix}`);
    bits = Number(prefix);
  }
  if (address.kind() === 'ipv6' && isMapped(address as ipaddr.IPv6) && bits >= 96)
    return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  return [address, bits];
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
  const network =
    address.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`);
  return `${network.toString()}/${bits}`;
}

/**
 * True when the address falls in one of the ranges; IPv4-mapped IPv6 addresses count as
 * IPv4. An address not written canonically (see parseAddress) is in none.
 */
export function addressAllowed(address: string, ranges: readonly IpRange[]): boolean {
  const parsed = comparableAddress(address);
  if (!parsed) return false;
  return ranges.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits));
}
