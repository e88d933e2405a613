import { IsObject, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IsMetadata, IsOmittable, PRINTABLE } from '../../common/validators';

export class CreateClientDto {
  /** A name people recognise: the service, partner or customer holding the keys. */
  @IsString() @MinLength(1) @MaxLength(200) @Matches(PRINTABLE, { message: 'name must not contain control characters' })
  name!: string;

  /** @example "Checkout service, team Payments" */
  @IsOmittable() @IsString() @MaxLength(2000) @Matches(PRINTABLE, { message: 'description must not contain control characters' })
  description?: string;

  /** Free-form labels. @example {"team": "payments"} */
  @IsOmittable() @IsObject() @IsMetadata()
  metadata?: Record<string, unknown>;
}
