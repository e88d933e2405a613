import fc from 'fast-check';
import { BadInput, Forbidden } from '../common/errors';
import { LATEST_INSTANT } from '../common/validators';
import { assertExpiryNotLater, expiryFrom } from './expiry-rule';

const HOUR = 3_600_000;
const root = { isSystem: true };
const tenant = { isSystem: false };

/** The error `run` throws, or undefined. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe(expiryFrom.name, () => {
  it('should read neither field as never', () => {
    expect(expiryFrom(undefined, undefined)).toBeNull();
    expect(expiryFrom(null, undefined)).toBeNull();
  });

  it('should count ttl_seconds from now', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(expiryFrom(undefined, 90, now)).toEqual(new Date(now + 90_000));
  });

  it('should take an expires_at in the future as given', () => {
    const at = new Date(Date.now() + HOUR).toISOString();
    expect(expiryFrom(at, undefined)!.toISOString()).toBe(at);
  });

  it('should refuse both fields at once, pointing at ttl_seconds', () => {
    const err = thrown(() => expiryFrom(new Date(Date.now() + HOUR).toISOString(), 60));
    expect(err).toBeInstanceOf(BadInput);
    expect((err as BadInput).extensions).toEqual({
      errors: [{ pointer: '#/ttl_seconds', detail: 'ttl_seconds cannot be combined with expires_at' }],
    });
  });

  it('should refuse an expires_at that is not in the future', () => {
    for (const at of [new Date(Date.now() - 1000).toISOString(), '2020-01-01T00:00:00Z']) {
      const err = thrown(() => expiryFrom(at, undefined));
      expect(err).toBeInstanceOf(BadInput);
      expect((err as BadInput).extensions).toEqual({
        errors: [{ pointer: '#/expires_at', detail: 'expires_at must be in the future' }],
      });
    }
  });

  it('should refuse a ttl_seconds that ends past the last storable instant, and only such', () => {
    const now = LATEST_INSTANT - 10_000;
    expect(expiryFrom(undefined, 9, now)).toEqual(new Date(LATEST_INSTANT - 1000));
    const err = thrown(() => expiryFrom(undefined, 10, now));
    expect(err).toBeInstanceOf(BadInput);
    expect((err as BadInput).extensions).toEqual({
      errors: [{ pointer: '#/ttl_seconds', detail: 'ttl_seconds reaches past 9998-12-31T23:59:59Z' }],
    });
  });
});

describe(assertExpiryNotLater.name, () => {
  const limit = new Date(Date.UTC(2027, 0, 1));

  it('should let any key keep or shorten an expiry', () => {
    expect(() => assertExpiryNotLater(limit, limit, tenant)).not.toThrow();
    expect(() => assertExpiryNotLater(limit, new Date(limit.getTime() - 1), tenant)).not.toThrow();
  });

  it('should refuse a tenant key a later expiry or none, naming the limit', () => {
    const later = thrown(() => assertExpiryNotLater(limit, new Date(limit.getTime() + 1), tenant));
    expect(later).toBeInstanceOf(Forbidden);
    expect((later as Forbidden).detail).toBe('Only root keys may set an expiry later than 2027-01-01T00:00:00.000Z.');
    expect((later as Forbidden).extensions).toEqual({ expires_at_limit: '2027-01-01T00:00:00.000Z' });
    const removed = thrown(() => assertExpiryNotLater(limit, null, tenant));
    expect(removed).toBeInstanceOf(Forbidden);
    expect((removed as Forbidden).detail).toBe('Only root keys may remove an expiry.');
  });

  it('should let root keys, internal callers and keys without an expiry do anything', () => {
    expect(() => assertExpiryNotLater(limit, null, root)).not.toThrow();
    expect(() => assertExpiryNotLater(limit, null, null)).not.toThrow();
    expect(() => assertExpiryNotLater(null, null, tenant)).not.toThrow();
    expect(() => assertExpiryNotLater(null, new Date(LATEST_INSTANT - 1), tenant)).not.toThrow();
  });

  it('should refuse a tenant exactly when the wanted expiry is none or later than the limit', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 10 * HOUR }), { nil: null }),
        fc.option(fc.integer({ min: 0, max: 10 * HOUR }), { nil: null }),
        fc.boolean(),
        (limitAt, wantedAt, isSystem) => {
          const refused =
            thrown(() =>
              assertExpiryNotLater(
                limitAt === null ? null : new Date(limitAt),
                wantedAt === null ? null : new Date(wantedAt),
                { isSystem },
              ),
            ) !== undefined;
          const model = !isSystem && limitAt !== null && (wantedAt === null || wantedAt > limitAt);
          expect(refused).toBe(model);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
