import ipaddr from 'ipaddr.js';

/** The longest address text there is: eight groups of four, or six and a dotted quad. */
const MAX_ADDRESS_LENGTH = 45;

/**
 * The address a text names, when it is written canonically: IPv4 as four decimal parts,
 * IPv6 as RFC 4291 text (a dotted quad only in an IPv4-mapped address, `::ffff:a.b.c.d`);
 * null for anything else. Shorthand, integer, octal and hex IPv4 forms ("10.1",
 * "167772161", "010.0.0.1" is 8.0.0.1), IPv4-compatible IPv6 ("::10.0.0.1"), zone ids,
 * ports and brackets name other addresses than a reader sees, or none.
 */
export function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (text.length > MAX_ADDRESS_LENGTH) return null;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return null;
  const address = ipaddr.IPv6.parse(text);
  if (text.includes('.')) {
    // ipaddr.js reads any embedded dotted quad as IPv4-mapped ("::10.0.0.1" as "::ffff:10.0.0.1"): read it as the hex it stands for.
    const colon = text.lastIndexOf(':');
    const quad = text.slice(colon + 1);
    if (!ipaddr.IPv4.isValidFourPartDecimal(quad)) return null;
    const [a, b, c, d] = ipaddr.IPv4.parse(quad).octets as [number, number, number, number];
    const hex = `${text.slice(0, colon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
    if (!ipaddr.IPv6.isValid(hex) || !isMapped(ipaddr.IPv6.parse(hex))) return null;
  }
  return address;
}

/** Whether the text is a canonical IPv4 or IPv6 address (see parseAddress). */
export function isAddress(text: string): boolean {
  return parseAddress(text) !== null;
}

/** The address as it is compared: an IPv4-mapped IPv6 address as its IPv4 address; null when not canonical. */
export function comparableAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const address = parseAddress(text);
  return address !== null && address.kind() === 'ipv6' && isMapped(address as ipaddr.IPv6)
    ? (address as ipaddr.IPv6).toIPv4Address()
    : address;
}

/** Whether an IPv6 address is IPv4-mapped (`::ffff:a.b.c.d`). */
export function isMapped(address: ipaddr.IPv6): boolean {
  const p = address.parts;
  return p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0xffff;
}
