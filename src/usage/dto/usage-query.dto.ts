import { IsIn, IsOptional } from 'class-validator';
import { IsTimestamp } from '../../common/validators';

export const GRANULARITIES = ['hour', 'day'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/**
 * A time range of usage. Buckets are whole UTC hours or days: the range is widened
 * to whole buckets. At most 31 days apart for hours, 366 for days.
 */
export class UsageQueryDto {
  /** RFC 3339; default `to` minus 24 hours (hour) or 30 days (day). @example "2026-01-01T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  from?: string;

  /** RFC 3339, exclusive; default now. @example "2026-01-02T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  to?: string;

  /** Bucket size; default `hour`. */
  @IsOptional()
  @IsIn(GRANULARITIES)
  granularity?: Granularity;
}
