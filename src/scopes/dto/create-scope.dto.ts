import { IsString, Matches, MaxLength } from 'class-validator';
import { IsNameText, IsOmittable } from '../../common/validators';
import { SCOPE_NAME_PATTERN } from '../../credentials/scope-match';

export class CreateScopeDto {
  /**
   * Lower-case segments separated by `:`, optionally ending in `:*` to cover every
   * scope below it. The `admin:` namespace is reserved.
   * @example "orders:read"
   */
  @IsString()
  @MaxLength(128)
  @Matches(SCOPE_NAME_PATTERN, {
    message: 'name must be lower-case segments separated by ":", optionally ending in ":*"',
  })
  @Matches(/^(?!admin:)/, { message: 'the admin: namespace is reserved for Keyhouse' })
  name!: string;

  /** @example "Read orders" */
  @IsOmittable()
  @IsString()
  @MaxLength(500)
  @IsNameText()
  description?: string;
}
