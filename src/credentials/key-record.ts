import { type IpRange, parseRange } from './ip-allowlist';
import type { KeyEnvironment } from './key-format';
import type { KeyRow } from '../store/keys.repository';

/** What the hot path knows about a key: one row of the verifier's query, never the secret. */
export interface KeyRecord {
  keyId: string;
  clientId: string;
  clientActive: boolean;
  isSystemClient: boolean;
  environment: KeyEnvironment;
  name: string;
  scopes: string[];
  createdAt: number;
  /** Milliseconds since the epoch, or null for never. */
  expiresAt: number | null;
  revokedAt: number | null;
  /** Set once the key has been rotated: the end of its grace period. */
  graceEndsAt: number | null;
  rateLimit: { limit: number; windowSeconds: number } | null;
  ipAllowlist: string[];
  hasUsageLimit: boolean;
  metadata: Record<string, unknown>;
  /** The allowlist, parsed once, as the record is read. */
  ipRanges: IpRange[];
  /** When the key stops being good: its expiry, or the end of its rotation grace, whichever comes first. */
  goodUntil: number | null;
  /**
   * The key's active introspection answer as JSON text, written the first time one is
   * given (see introspectionJson). A record never changes (a change to its key replaces
   * it in the cache), so neither does that answer.
   */
  activeAnswer: string | undefined;
}

// The row and its query are the keys repository's (KeysRepository.findRecordRowByDigest); re-exported
// for the verifier until it reads through the repository.

const millis = (v: Date | string | null): number | null =>
  v === null ? null : v instanceof Date ? v.getTime() : new Date(v).getTime();
const earliest = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.min(a, b);

/**
 * The record of one row, built as one object literal: every record has the same shape,
 * and the hot path builds one per query when its cache is off.
 */
export function keyRecordFromRow(row: KeyRow): KeyRecord {
  const expiresAt = millis(row.expires_at);
  const graceEndsAt = millis(row.grace_ends_at);
  const ipAllowlist = row.ip_allowlist ?? [];
  return {
    keyId: row.id,
    clientId: row.client_id,
    clientActive: row.client_status === 'active',
    isSystemClient: row.is_system,
    environment: row.environment,
    name: row.name,
    scopes: row.scopes ?? [],
    createdAt: millis(row.created_at)!,
    expiresAt,
    revokedAt: millis(row.revoked_at),
    graceEndsAt,
    rateLimit:
      row.rate_limit !== null && row.rate_window_seconds !== null
        ? { limit: row.rate_limit, windowSeconds: row.rate_window_seconds }
        : null,
    ipAllowlist,
    hasUsageLimit: row.usage_limit !== null,
    metadata: row.metadata ?? {},
    ipRanges: ipAllowlist.map(parseRange),
    goodUntil: earliest(expiresAt, graceEndsAt),
    activeAnswer: undefined,
  };
}
