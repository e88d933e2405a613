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

/**
 * The checks of a key the lookup found, in order: the first that fails names the reason,
 * null when it passes them all. The admin guard and the hot path run the same checks; a new
 * check is one more line, in its place. Written as one function rather than a list of them:
 * every hot-path call runs it, and calls through a list of checks cost forward auth about 5% of its throughput.
 */
export function failedCheck(key: KeyRecord, required: Requirements, now: number): InactiveReason | null {
  // A revocation is never in the future: set is revoked, whatever this instance's clock says.
  if (key.revokedAt !== null) return 'revoked';
  // goodUntil is the expiry, or while a rotated key is in grace, the end of its grace, whichever comes first.
  if (key.goodUntil !== null && key.goodUntil <= now) return 'expired';
  if (!key.clientActive) return 'client_suspended';
  if (required.environment && required.environment !== key.environment) return 'environment_mismatch';
  if (required.scopes && required.scopes.length > 0 && !coversAll(key.scopes, required.scopes)) {
    return 'insufficient_scope';
  }
  // A key with an allowlist needs an address in it: none given is not allowed.
  if (key.ipRanges.length > 0 && !(required.clientIp && addressAllowed(required.clientIp, key.ipRanges))) {
    return 'ip_not_allowed';
  }
  return null;
}
