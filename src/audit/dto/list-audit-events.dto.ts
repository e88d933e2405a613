import { IsDateString, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination.dto';
import { PRINTABLE } from '../../common/validators';

export class ListAuditEventsQueryDto extends PageQueryDto {
  /** @example "key.revoked" */
  @IsOptional() @IsString() @MaxLength(64) @Matches(/^[a-z_.]+$/)
  action?: string;

  /** Key id of the actor. */
  @IsOptional() @IsUUID()
  actor?: string;

  /** Id (or scope name) of the target. */
  @IsOptional() @IsString() @MaxLength(128) @Matches(PRINTABLE, { message: 'target must not contain control characters' })
  target?: string;

  /** RFC 3339; events at or after. */
  @IsOptional() @IsDateString()
  from?: string;

  /** RFC 3339; events before. */
  @IsOptional() @IsDateString()
  to?: string;
}
