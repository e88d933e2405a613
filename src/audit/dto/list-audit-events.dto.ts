import { IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination.dto';
import { IsTimestamp, PRINTABLE } from '../../common/validators';

export class ListAuditEventsQueryDto extends PageQueryDto {
  /** Only events of this action. @example "key.revoked" */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/^[a-z_.]+$/)
  action?: string;

  /** Key id of the actor. */
  @IsOptional()
  @IsUUID()
  actor?: string;

  /** Id (or scope name) of the target. */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  @Matches(PRINTABLE, { message: 'target must not contain control characters' })
  target?: string;

  /** RFC 3339 date-time with a time zone; events at or after. @example "2026-01-01T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  from?: string;

  /** RFC 3339 date-time with a time zone; events before. @example "2026-02-01T00:00:00Z" */
  @IsOptional()
  @IsTimestamp()
  to?: string;
}
