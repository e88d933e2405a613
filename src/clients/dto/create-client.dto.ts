import { IsObject, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IsMetadata, PRINTABLE } from '../../common/validators';

export class CreateClientDto {
  /** A name people recognise: the service, partner or customer holding the keys. */
  @IsString() @MinLength(1) @MaxLength(200) @Matches(PRINTABLE, { message: 'name must not contain control characters' })
  name!: string;

  /** @example "Checkout service, team Payments" */
  @IsOptional() @IsString() @MaxLength(2000) @Matches(PRINTABLE, { message: 'description must not contain control characters' })
  description?: string;

  /** Free-form labels. @example {"team": "payments"} */
  @IsOptional() @IsObject() @IsMetadata()
  metadata?: Record<string, unknown>;
}
