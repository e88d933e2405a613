import type { Actor } from '../auth/actor';
import { BadInput, Forbidden } from '../common/errors';
import { LATEST_INSTANT, TIMESTAMP_RANGE } from '../common/validators';

/** An expiry from `expires_at` or `ttl_seconds` (not both); it must lie in the future. `null` means never. */
export function expiryFrom(
  expiresAt: string | null | undefined,
  ttlSeconds: number | undefined,
  now = Date.now(),
): Date | null {
  if (expiresAt !== undefined && ttlSeconds !== undefined) {
    throw new BadInput('Give expires_at or ttl_seconds, not both.', {
      errors: [{ pointer: '#/ttl_seconds', detail: 'ttl_seconds cannot be combined with expires_at' }],
    });
  }
  if (ttlSeconds !== undefined) {
    const at = now + ttlSeconds * 1000;
    if (at >= LATEST_INSTANT)
      throw new BadInput(`ttl_seconds must end within ${TIMESTAMP_RANGE}.`, {
        errors: [{ pointer: '#/ttl_seconds', detail: 'ttl_seconds reaches past 9998-12-31T23:59:59Z' }],
      });
    return new Date(at);
  }
  if (expiresAt === undefined || expiresAt === null) return null;
  const at = new Date(expiresAt);
  if (at.getTime() <= Date.now()) {
    throw new BadInput('expires_at must lie in the future.', {
      errors: [{ pointer: '#/expires_at', detail: 'expires_at must be in the future' }],
    });
  }
  return at;
}

/**
 * Until clients have a lifetime policy, only a root key may remove an expiry or move it later
 * (an expired key stays dead, a short-lived one short); any key may move it earlier.
 * `limit`: the latest expiry allowed, null for none; `null` actor: an internal caller.
 */
export function assertExpiryNotLater(
  limit: Date | null,
  wanted: Date | null,
  actor: Pick<Actor, 'isSystem'> | null,
): void {
  if (!actor || actor.isSystem || limit === null) return;
  if (wanted !== null && wanted.getTime() <= limit.getTime()) return;
  throw new Forbidden(
    wanted === null
      ? 'Only root keys may remove an expiry.'
      : `Only root keys may set an expiry later than ${limit.toISOString()}.`,
    { expires_at_limit: limit.toISOString() },
  );
}
