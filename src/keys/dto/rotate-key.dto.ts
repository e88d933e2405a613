import { IsDateString, IsInt, IsOptional, Max, Min } from 'class-validator';
import { MAX_GRACE_PERIOD_SECONDS } from '../../config/config';
import { KeyField } from './key-fields.dto';

export class RotateKeyDto {
  /**
   * How long the old key keeps working, in seconds: 0 ends it at once; at most 30 days
   * (2592000). It never outlives its own expiry. Default: DEFAULT_GRACE_PERIOD_SECONDS (one day).
   * @example 3600
   */
  @IsOptional() @IsInt() @Min(0) @Max(MAX_GRACE_PERIOD_SECONDS)
  grace_period_seconds?: number;

  /** Expiry of the new key. By default it gets the old key's lifetime, counted from now. */
  @IsOptional() @IsDateString({ strict: true })
  expires_at?: string;

  /** Lifetime of the new key in seconds, instead of `expires_at`. */
  @IsOptional() @KeyField.ttlSeconds()
  ttl_seconds?: number;
}
