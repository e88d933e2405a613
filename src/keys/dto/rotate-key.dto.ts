import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { IsOmittable, IsTimestamp } from '../../common/validators';
import { MAX_GRACE_PERIOD_SECONDS } from '../../config/config';
import { KeyField } from './key-fields.dto';

export class RotateKeyDto {
  /**
   * How long the old key keeps working, in seconds: 0 ends it at once; at most 30 days
   * (2592000). It never outlives its own expiry. Default: DEFAULT_GRACE_PERIOD_SECONDS (one day).
   * @example 3600
   */
  @IsOmittable()
  @IsInt()
  @Min(0)
  @Max(MAX_GRACE_PERIOD_SECONDS)
  grace_period_seconds?: number;

  /** Expiry of the new key; null for never. By default it gets the old key's lifetime, counted from now. */
  @IsOptional()
  @IsTimestamp()
  expires_at?: string | null;

  /** Lifetime of the new key in seconds, instead of `expires_at`. */
  @IsOmittable()
  @KeyField.ttlSeconds()
  ttl_seconds?: number;
}
