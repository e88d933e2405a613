import type { Actor } from '../auth/actor';
import { LATEST_INSTANT } from '../common/validators';
import type { KeyEntity } from '../store/key.entity';
import { keyStatus } from '../store/key-status';
import { assertExpiryNotLater, expiryFrom } from './expiry-rule';
import { KeyAlreadyRotated, KeyNotGood } from './key.errors';

/** Only an active key that has not been rotated yet may be rotated: a rotated one's successor is. */
export function assertRotatable(key: Pick<KeyEntity, 'replacedBy' | 'revokedAt' | 'expiresAt' | 'graceEndsAt'>): void {
  if (key.replacedBy) throw new KeyAlreadyRotated(key.replacedBy);
  const status = keyStatus(key);
  if (status !== 'active') throw new KeyNotGood(status);
}

/**
 * The successor's expiry: the one asked for (`expires_at` or `ttl_seconds`), else the old
 * key's lifetime from `now` (never past the last storable instant), else never. Only root
 * may give it a longer lifetime than the old key's.
 */
export function successorExpiry(
  old: Pick<KeyEntity, 'createdAt' | 'expiresAt'>,
  wanted: { expires_at?: string | null; ttl_seconds?: number },
  actor: Pick<Actor, 'isSystem'> | null,
  now: number,
): Date | null {
  const lifetime = old.expiresAt ? old.expiresAt.getTime() - old.createdAt.getTime() : null;
  const defaultExpiry = lifetime === null ? null : new Date(Math.min(now + lifetime, LATEST_INSTANT - 1));
  const expiresAt =
    wanted.expires_at !== undefined || wanted.ttl_seconds !== undefined
      ? expiryFrom(wanted.expires_at, wanted.ttl_seconds, now)
      : defaultExpiry;
  assertExpiryNotLater(defaultExpiry, expiresAt, actor);
  return expiresAt;
}

/** When the rotated key stops working: `graceSeconds` from `now`, but never after its own expiry. */
export function graceEnd(old: Pick<KeyEntity, 'expiresAt'>, graceSeconds: number, now: number): Date {
  return new Date(Math.min(now + graceSeconds * 1000, old.expiresAt?.getTime() ?? Infinity));
}
