import { Forbidden } from '../common/errors';
import { LATEST_INSTANT } from '../common/validators';
import { KeyAlreadyRotated, KeyNotGood } from './key.errors';
import { assertRotatable, graceEnd, successorExpiry } from './rotation-policy';

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

describe(assertRotatable.name, () => {
  const good = { replacedBy: null, revokedAt: null, expiresAt: null, graceEndsAt: null };

  it('should let an active key be rotated', () => {
    expect(() => assertRotatable(good)).not.toThrow();
    expect(() => assertRotatable({ ...good, expiresAt: new Date(Date.now() + HOUR) })).not.toThrow();
  });

  it('should send a rotated key to its successor', () => {
    const err = thrown(() =>
      assertRotatable({ ...good, replacedBy: 'successor-id', graceEndsAt: new Date(Date.now() + HOUR) }),
    );
    expect(err).toBeInstanceOf(KeyAlreadyRotated);
    expect((err as KeyAlreadyRotated).extensions).toEqual({ replaced_by: 'successor-id' });
  });

  it('should refuse a revoked or expired key, naming its status', () => {
    const revoked = thrown(() => assertRotatable({ ...good, revokedAt: new Date() }));
    expect(revoked).toBeInstanceOf(KeyNotGood);
    expect((revoked as KeyNotGood).extensions).toEqual({ key_status: 'revoked' });
    const expired = thrown(() => assertRotatable({ ...good, expiresAt: new Date(Date.now() - 1) }));
    expect((expired as KeyNotGood).extensions).toEqual({ key_status: 'expired' });
  });
});

describe(successorExpiry.name, () => {
  const now = Date.UTC(2026, 5, 1);
  const created = new Date(now - 10 * HOUR);

  it("should give the successor the old key's lifetime from now", () => {
    const old = { createdAt: created, expiresAt: new Date(created.getTime() + 24 * HOUR) };
    expect(successorExpiry(old, {}, tenant, now)).toEqual(new Date(now + 24 * HOUR));
  });

  it('should give a key that never expires a successor that never expires', () => {
    expect(successorExpiry({ createdAt: created, expiresAt: null }, {}, tenant, now)).toBeNull();
  });

  it('should stop the default short of the last storable instant', () => {
    const old = { createdAt: new Date(0), expiresAt: new Date(LATEST_INSTANT - 1) };
    expect(successorExpiry(old, {}, tenant, now)).toEqual(new Date(LATEST_INSTANT - 1));
  });

  it('should take a shorter ttl_seconds from any key, a longer one from root keys only', () => {
    const old = { createdAt: created, expiresAt: new Date(created.getTime() + 24 * HOUR) };
    expect(successorExpiry(old, { ttl_seconds: 3600 }, tenant, now)).toEqual(new Date(now + HOUR));
    expect(thrown(() => successorExpiry(old, { ttl_seconds: 25 * 3600 }, tenant, now))).toBeInstanceOf(Forbidden);
    expect(successorExpiry(old, { ttl_seconds: 25 * 3600 }, root, now)).toEqual(new Date(now + 25 * HOUR));
  });

  it('should let only root keys rotate a key with an expiry into one without', () => {
    const old = { createdAt: created, expiresAt: new Date(created.getTime() + 24 * HOUR) };
    expect(thrown(() => successorExpiry(old, { expires_at: null }, tenant, now))).toBeInstanceOf(Forbidden);
    expect(successorExpiry(old, { expires_at: null }, root, now)).toBeNull();
  });
});

describe(graceEnd.name, () => {
  const now = Date.UTC(2026, 5, 1);

  it('should end the grace period the given seconds from now', () => {
    expect(graceEnd({ expiresAt: null }, 600, now)).toEqual(new Date(now + 600_000));
  });

  it("should never outlast the old key's own expiry", () => {
    expect(graceEnd({ expiresAt: new Date(now + 1000) }, 600, now)).toEqual(new Date(now + 1000));
    expect(graceEnd({ expiresAt: new Date(now + HOUR) }, 600, now)).toEqual(new Date(now + 600_000));
  });
});
