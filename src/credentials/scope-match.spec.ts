import fc from 'fast-check';
import { coversAll, SCOPE_NAME_PATTERN, scopeCovers } from './scope-match';

const segment = fc.stringMatching(/^[a-z][a-z0-9_-]{0,7}$/);
const scopeName = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(':'));

describe('scope matching', () => {
  it.each([
    ['orders:read', 'orders:read', true],
    ['orders:read', 'orders:write', false],
    ['orders:*', 'orders:read', true],
    ['orders:*', 'orders:items:write', true],
    ['orders:*', 'orders', false],
    ['orders:*', 'orders:', false],
    ['orders:*', 'ordersx:read', false],
    ['orders:*', 'order:read', false],
    ['orders:items:*', 'orders:items:read', true],
    ['orders:items:*', 'orders:read', false],
    ['orders:read', 'orders:*', false],
    ['admin:*', 'admin:keys:write', true],
    ['admin:keys:*', 'admin:clients:read', false],
    ['orders', 'orders:read', false],
  ])('%s covering %s should be %s', (held, needed, expected) => {
    expect(scopeCovers(held, needed)).toBe(expected);
  });

  it('should let a scope without a wildcard cover only itself', () => {
    fc.assert(
      fc.property(scopeName, scopeName, (held, needed) => {
        expect(scopeCovers(held, needed)).toBe(held === needed);
      }),
    );
  });

  it('should let a wildcard cover exactly the names below its stem', () => {
    fc.assert(
      fc.property(scopeName, scopeName, (stem, needed) => {
        expect(scopeCovers(`${stem}:*`, needed)).toBe(needed.startsWith(`${stem}:`));
      }),
    );
  });

  it('should need every required scope covered, by any held scope', () => {
    expect(coversAll(['orders:*', 'users:read'], ['orders:write', 'users:read'])).toBe(true);
    expect(coversAll(['orders:*'], ['orders:write', 'users:read'])).toBe(false);
    expect(coversAll([], ['orders:read'])).toBe(false);
    expect(coversAll([], [])).toBe(true);
  });

  it.each(['orders:read', 'orders:*', 'a', 'orders:items:write', 'billing-v2:read_all', 'admin:*'])(
    'should accept the name %s',
    (name) => {
      expect(SCOPE_NAME_PATTERN.test(name)).toBe(true);
    },
  );

  it.each([
    'Orders:read',
    'orders:',
    ':read',
    'orders::read',
    '*',
    'orders:*:read',
    'orders:re ad',
    '1orders:read',
    'orders:read*',
    '',
  ])('should reject the name %j', (name) => {
    expect(SCOPE_NAME_PATTERN.test(name)).toBe(false);
  });
});
