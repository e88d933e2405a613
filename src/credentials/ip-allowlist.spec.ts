import { addressAllowed, isValidRange, normalizeRange, parseRange } from './ip-allowlist';

describe('IP allowlist', () => {
  it.each([
    '10.0.0.0/8',
    '203.0.113.7',
    '203.0.113.7/32',
    '0.0.0.0/0',
    '2001:db8::/32',
    '::1',
    '::/0',
    'fe80::1/128',
    '::ffff:10.0.0.0/104',
  ])('should accept %s', (range) => {
    expect(isValidRange(range)).toBe(true);
  });

  // Shorthand and octal IPv4 forms parse to other addresses than a reader sees ("010.0.0.1" is 8.0.0.1).
  it.each([
    '',
    'abc',
    '10.0.0.0/33',
    '300.1.1.1',
    '10.0.0.1/-1',
    '::/129',
    '2001:db8::/32/1',
    '10.1',
    '1',
    '010.0.0.1',
    '0x7f.0.0.1',
    '10.0.0.1/',
    'fe80::1%eth0',
    '167772161',
    '::10.0.0.1',
    '::10.0.0.0/104',
    '::ffff:010.0.0.1',
    '10.0.0.1/08',
    '[::1]',
    '10.0.0.1:80',
  ])('should reject %j', (range) => {
    expect(isValidRange(range)).toBe(false);
    expect(() => parseRange(range)).toThrow();
  });

  it.each([
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['203.0.113.7', '203.0.113.7/32'],
    ['2001:DB8:0:0::1/32', '2001:db8::/32'],
    ['::1', '::1/128'],
  ])('should store %s as %s', (given, stored) => {
    expect(normalizeRange(given)).toBe(stored);
  });

  const ranges = ['10.0.0.0/8', '203.0.113.7', '2001:db8::/32'].map(parseRange);

  it.each([
    ['10.200.1.1', true],
    ['11.0.0.1', false],
    ['203.0.113.7', true],
    ['203.0.113.8', false],
    ['2001:db8:1::5', true],
    ['2001:db9::5', false],
    ['::ffff:10.1.2.3', true],
    ['::ffff:11.1.2.3', false],
    ['not an address', false],
    ['', false],
  ])('should decide %s is allowed: %s', (address, allowed) => {
    expect(addressAllowed(address, ranges)).toBe(allowed);
  });

  it.each([
    '10.1',
    '167772161',
    '010.0.0.1',
    '0x0a.0.0.1',
    '::10.0.0.1',
    '::ffff:010.0.0.1',
    '10.0.0.1%eth0',
    '::ffff:10.0.0.1%1',
    '[10.0.0.1]',
    '10.0.0.1:80',
    `10.0.0.1${'0'.repeat(70)}`,
  ])('should never let the non-canonical %j match', (address) => {
    expect(addressAllowed(address, [parseRange('10.0.0.0/8'), parseRange('::/0'), parseRange('0.0.0.0/0')])).toBe(
      false,
    );
  });

  it('should take an IPv4-mapped range as its IPv4 range, and match either form of an address in it', () => {
    expect(normalizeRange('::ffff:10.0.0.0/104')).toBe('10.0.0.0/8');
    expect(normalizeRange('::ffff:192.0.2.7')).toBe('192.0.2.7/32');
    const mapped = [parseRange('::ffff:192.0.2.0/120')];
    expect(addressAllowed('192.0.2.9', mapped)).toBe(true);
    expect(addressAllowed('::ffff:192.0.2.9', mapped)).toBe(true);
    expect(addressAllowed('::ffff:c000:209', mapped)).toBe(true);
    expect(addressAllowed('192.0.3.9', mapped)).toBe(false);
  });

  it('should never match an IPv4 address against an IPv6 range or the reverse', () => {
    expect(addressAllowed('10.0.0.1', [parseRange('::/0')])).toBe(false);
    expect(addressAllowed('2001:db8::1', [parseRange('0.0.0.0/0')])).toBe(false);
  });
});
