import type { KeyEntity } from './key.entity';

export const KEY_STATUSES = ['active', 'expiring', 'expired', 'revoked'] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];

/** A key's status, derived from its timestamps; the same rules as {@link statusCondition}. */
export function keyStatus(
  key: Pick<KeyEntity, 'revokedAt' | 'expiresAt' | 'graceEndsAt' | 'replacedBy'>,
  now = Date.now(),
): KeyStatus {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && key.expiresAt.getTime() <= now) return 'expired';
  if (key.graceEndsAt && key.graceEndsAt.getTime() <= now) return 'expired';
  if (key.replacedBy) return 'expiring';
  return 'active';
}

/** SQL for "the key `k` has not run out": neither its expiry nor its grace end has passed. */
const live = '(k.expires_at IS NULL OR k.expires_at > now()) AND (k.grace_ends_at IS NULL OR k.grace_ends_at > now())';

/** SQL for "the key `k` still works or can be made to" (active or expiring): what a client's ceiling must cover. */
export const NOT_DEAD = `k.revoked_at IS NULL AND ${live}`;

/** SQL for "the key `k` has this status now", for list filters. */
export function statusCondition(status: KeyStatus): string {
  switch (status) {
    case 'revoked':
      return 'k.revoked_at IS NOT NULL';
    case 'expired':
      return `k.revoked_at IS NULL AND NOT (${live})`;
    case 'expiring':
      return `k.revoked_at IS NULL AND k.replaced_by IS NOT NULL AND ${live}`;
    case 'active':
      return `k.revoked_at IS NULL AND k.replaced_by IS NULL AND ${live}`;
  }
}
