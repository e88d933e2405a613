import { IsObject, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IsMetadata, IsNameText, IsOmittable, IsScopeList, PRINTABLE } from '../../common/validators';

export class CreateClientDto {
  /** A name people recognise: the service, partner or customer holding the keys. */
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsNameText()
  name!: string;

  /** @example "Checkout service, team Payments" */
  @IsOmittable()
  @IsString()
  @MaxLength(2000)
  @Matches(PRINTABLE, { message: 'description must not contain control characters' })
  description?: string;

  /**
   * The ceiling on this client's keys (root keys only): catalogued scopes or `:*` wildcards.
   * Every key of the client, whoever issues it, must hold only scopes these cover. Empty
   * (the default) sets no ceiling of the client's own. @example ["orders:*", "admin:keys:write"]
   */
  @IsOmittable()
  @IsScopeList()
  allowed_scopes?: string[];

  /** Free-form labels. @example {"team": "payments"} */
  @IsOmittable()
  @IsObject()
  @IsMetadata()
  metadata?: Record<string, unknown>;
}
