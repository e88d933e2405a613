import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsOmittable, IsTimestamp } from '../../common/validators';
import { KeyField, RateLimitDto } from './key-fields.dto';

/** Every field is optional; `null` clears expiry, rate limit and usage limit. */
export class UpdateKeyDto {
  /** @example "checkout production (eu)" */
  @IsOmittable()
  @KeyField.name()
  name?: string;

  /** Replaces the key's scopes. @example ["orders:read"] */
  @IsOmittable()
  @KeyField.scopes()
  scopes?: string[];

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, example: '2027-06-01T00:00:00Z' })
  @IsOptional()
  @IsTimestamp()
  expires_at?: string | null;

  @ApiPropertyOptional({ type: RateLimitDto, nullable: true })
  @IsOptional()
  @KeyField.rateLimit()
  rate_limit?: RateLimitDto | null;

  /** @example ["203.0.113.0/24"] */
  @IsOmittable()
  @KeyField.ipAllowlist()
  ip_allowlist?: string[];

  /** Setting it also resets the uses remaining to this number. */
  @ApiPropertyOptional({ type: Number, nullable: true, example: 5000 })
  @IsOptional()
  @KeyField.usageLimit()
  usage_limit?: number | null;

  /** Replaces the key's metadata. @example {"owner": "payments"} */
  @IsOmittable()
  @KeyField.metadata()
  metadata?: Record<string, unknown>;
}
