import { ApiProperty } from '@nestjs/swagger';
import { EXAMPLE_KEYS } from '../../credentials/example-keys';
import { ENVIRONMENTS, keyHint, type KeyEnvironment } from '../../credentials/key-format';
import type { KeyEntity } from '../../store/key.entity';
import { KEY_STATUSES, keyStatus, type KeyStatus } from '../../store/key-status';
import { RateLimitDto } from './key-fields.dto';
import { UsedSinceRotationResponse } from './used-since-rotation.response';

/** A key as operators see it: never the secret, never its digest. */
export class KeyResponse {
  /** @example "6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11" */
  id!: string;
  /** @example "0b7e7dc4-1b4e-4c53-a7b2-6f2e8f2f4c11" */
  client_id!: string;
  /** @example "checkout production" */
  name!: string;
  @ApiProperty({ enum: ENVIRONMENTS, example: 'live' })
  environment!: KeyEnvironment;
  @ApiProperty({
    enum: KEY_STATUSES,
    example: 'active',
    description: '`expiring` while a rotated key is in its grace period.',
  })
  status!: KeyStatus;
  /** Prefix plus the first and last four characters, to recognise a key. */
  @ApiProperty({ example: keyHint(EXAMPLE_KEYS.live) })
  hint!: string;
  /** @example ["orders:read"] */
  scopes!: string[];
  /** @example "2026-01-01T12:00:00.000Z" */
  @ApiProperty({ format: 'date-time' })
  created_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2027-01-01T00:00:00.000Z' })
  expires_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  last_used_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  revoked_at!: string | null;
  @ApiProperty({ type: String, nullable: true, example: null })
  revoked_reason!: string | null;
  /** The key this one succeeded by rotation. */
  @ApiProperty({ type: String, format: 'uuid', nullable: true, example: null })
  replaces!: string | null;
  /** The key that succeeded this one by rotation. */
  @ApiProperty({ type: String, format: 'uuid', nullable: true, example: null })
  replaced_by!: string | null;
  /** When a rotated key stops working. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  grace_ends_at!: string | null;
  /** For a rotated key: its use since the rotation, to tell when callers have moved to the successor. */
  @ApiProperty({ type: UsedSinceRotationResponse, nullable: true, example: null })
  used_since_rotation!: UsedSinceRotationResponse | null;
  @ApiProperty({ type: RateLimitDto, nullable: true })
  rate_limit!: RateLimitDto | null;
  /** @example [] */
  ip_allowlist!: string[];
  @ApiProperty({ type: Number, nullable: true, example: null })
  usage_limit!: number | null;
  /** Uses left under the usage limit. */
  @ApiProperty({ type: Number, nullable: true, example: null })
  remaining!: number | null;
  /** @example {"owner": "payments"} */
  metadata!: Record<string, unknown>;
}

/** The answer to issue and rotate: the only response that ever carries the secret. */
export class IssuedKeyResponse extends KeyResponse {
  /** The full key. Shown once: store it now, Keyhouse keeps only a digest. */
  @ApiProperty({ example: EXAMPLE_KEYS.live })
  key!: string;
}

export class KeyPage {
  data!: KeyResponse[];
  /** Pass as `cursor` for the next page; null on the last page. */
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'WyIyMDI2LTAxLTAxVDEyOjAwOjAwLjAwMFoiLCI2ZjFjMWU5ZS0zYjBhLTRmNTctOWQzNi0wZDFmMGUwYjdhMTEiXQ',
  })
  next_cursor!: string | null;
}

function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

/** A key as its response: `scopes` in code-point order; `rotation` its use since rotated, for a rotated key (see usedSinceRotation). */
export function mapKey(k: KeyEntity, scopes: string[], rotation?: UsedSinceRotationResponse): KeyResponse {
  return {
    id: k.id,
    client_id: k.clientId,
    name: k.name,
    environment: k.environment,
    status: keyStatus(k),
    hint: k.hint,
    scopes,
    created_at: k.createdAt.toISOString(),
    expires_at: iso(k.expiresAt),
    last_used_at: iso(k.lastUsedAt),
    revoked_at: iso(k.revokedAt),
    revoked_reason: k.revokedReason,
    replaces: k.replaces,
    replaced_by: k.replacedBy,
    grace_ends_at: iso(k.graceEndsAt),
    used_since_rotation: rotation ?? null,
    rate_limit: k.rateLimit === null ? null : { limit: k.rateLimit, window_seconds: k.rateWindowSeconds! },
    ip_allowlist: k.ipAllowlist,
    usage_limit: k.usageLimit,
    remaining: k.remaining,
    metadata: k.metadata,
  };
}
