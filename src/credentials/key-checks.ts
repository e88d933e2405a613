import { addressAllowed } from './ip-allowlist';
import type { KeyRecord } from './key-record';
import { coversAll } from './scope-match';

/** Why a key is not good, in the order the checks run (REASONS in hot-path/reasons.ts says what each means). */
export type InactiveReason =
  | 'malformed'
  | 'not_found'
  | 'revoked'
  | 'expired'
  | 'client_suspended'
  | 'environment_mismatch'
  | 'insufficient_scope'
  | 'ip_not_allowed'
  | 'usage_exceeded'
  | 'rate_limited';

/**
 * What a caller needs of a key besides it being good. An environment other than `live` or
 * `test` (what two different requirements at once ask for) is met by no key.
 */
export interface Requirements {
  scopes?: readonly string[];
  environment?: string;
  clientIp?: string;
}

/** One check of a found key: the reason it fails, or null. */
export type KeyCheck = (key: KeyRecord, required: Requirements, now: number) => InactiveReason | null;

/**
 * The checks of a key the lookup found, in order: the first that fails names the reason.
 * The admin guard and the hot path run the same list; a new check is one more entry.
 */
export const KEY_CHECKS: readonly KeyCheck[] = [
  // A revocation is never in the future: set is revoked, whatever this instance's clock says.
  (key) => (key.revokedAt !== null ? 'revoked' : null),
  // goodUntil is the expiry, or while a rotated key is in grace, the end of its grace, whichever comes first.
  (key, _required, now) => (key.goodUntil !== null && key.goodUntil <= now ? 'expired' : null),
  (key) => (key.clientActive ? null : 'client_suspended'),
  (key, required) => (required.environment && required.environment !== key.environment ? 'environment_mismatch' : null),
  (key, required) =>
    required.scopes && required.scopes.length > 0 && !coversAll(key.scopes, required.scopes)
      ? 'insufficient_scope'
      : null,
  // A key with an allowlist needs an address in it: none given is not allowed.
  (key, required) =>
    key.ipRanges.length > 0 && !(required.clientIp && addressAllowed(required.clientIp, key.ipRanges))
      ? 'ip_not_allowed'
      : null,
];

/** The first check `key` fails, or null when it passes them all. */
export function failedCheck(key: KeyRecord, required: Requirements, now: number): InactiveReason | null {
  for (const check of KEY_CHECKS) {
    const reason = check(key, required, now);
    if (reason !== null) return reason;
  }
  return null;
}
