import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsObject,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
  registerDecorator,
  ValidateNested,
  ValidationOptions,
} from 'class-validator';
import { isValidRange } from '../../credentials/ip-allowlist';
import { IsMetadata, IsNameText, IsScopeList } from '../../common/validators';
import { applyDecorators } from '@nestjs/common';

export const MAX_TTL_SECONDS = 10 * 365 * 86400;

/** Requests per window, counted per key across every instance. */
export class RateLimitDto {
  /** @example 100 */
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  limit!: number;

  /** @example 60 */
  @IsInt()
  @Min(1)
  @Max(86_400)
  window_seconds!: number;
}

function IsCidr(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyKey) =>
    registerDecorator({
      name: 'isCidr',
      target: target.constructor,
      propertyName: propertyKey as string,
      options: {
        message: 'each value in $property must be an IPv4 or IPv6 address or CIDR range',
        each: true,
        ...options,
      },
      validator: {
        validate: (value: unknown) => typeof value === 'string' && value.length <= 64 && isValidRange(value),
      },
    });
}

/** The validators of each writable key field, shared by issue and patch. */
export const KeyField = {
  name: () => applyDecorators(IsString(), MinLength(1), MaxLength(200), IsNameText()),
  scopes: IsScopeList,
  ttlSeconds: () => applyDecorators(IsInt(), Min(1), Max(MAX_TTL_SECONDS)),
  rateLimit: () =>
    applyDecorators(
      IsObject(),
      ValidateNested(),
      Type(() => RateLimitDto),
    ),
  ipAllowlist: () => applyDecorators(IsArray(), ArrayMaxSize(100), IsString({ each: true }), IsCidr()),
  usageLimit: () => applyDecorators(IsInt(), Min(1), Max(2_000_000_000)),
  metadata: () => applyDecorators(IsObject(), IsMetadata()),
};
