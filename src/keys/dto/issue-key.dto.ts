import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { IsOmittable, IsTimestamp } from '../../common/validators';
import { ENVIRONMENTS, type KeyEnvironment } from '../../credentials/key-format';
import { KeyField, RateLimitDto } from './key-fields.dto';

export class IssueKeyDto {
  @ApiProperty({ enum: ENVIRONMENTS, example: 'live', description: 'Decides the prefix: `sk_live_` or `sk_test_`.' })
  @IsIn(ENVIRONMENTS)
  environment!: KeyEnvironment;

  /** @example "checkout production" */
  @KeyField.name()
  name!: string;

  /** Catalogued scopes; a trailing `:*` scope covers everything below it. @example ["orders:read", "orders:write"] */
  @IsOmittable()
  @KeyField.scopes()
  scopes?: string[];

  /** When the key stops working (RFC 3339, in the future). Give this or `ttl_seconds`, not both; neither (or null) means never. @example "2027-01-01T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  expires_at?: string | null;

  /** Lifetime in seconds from now, instead of `expires_at`. @example 7776000 */
  @IsOmittable()
  @KeyField.ttlSeconds()
  ttl_seconds?: number;

  @ApiPropertyOptional({ type: RateLimitDto, nullable: true })
  @IsOptional()
  @KeyField.rateLimit()
  rate_limit?: RateLimitDto | null;

  /** Addresses or CIDR ranges (IPv4 or IPv6) the key may be used from; empty means anywhere. @example ["203.0.113.0/24", "2001:db8::/32"] */
  @IsOmittable()
  @KeyField.ipAllowlist()
  ip_allowlist?: string[];

  /** How many good calls the key may make in all; absent means unlimited. @example 10000 */
  @IsOptional()
  @KeyField.usageLimit()
  usage_limit?: number | null;

  /** @example {"owner": "payments"} */
  @IsOmittable()
  @KeyField.metadata()
  metadata?: Record<string, unknown>;
}
