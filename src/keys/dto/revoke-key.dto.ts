import { IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IsOmittable, PRINTABLE } from '../../common/validators';

export class RevokeKeyDto {
  /** Why, for the audit trail. @example "compromised" */
  @IsOmittable()
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  @Matches(PRINTABLE, { message: 'reason must not contain control characters' })
  reason?: string;
}
