import { applyDecorators } from '@nestjs/common';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsDateString,
  IsString,
  Matches,
  MaxLength,
  registerDecorator,
  ValidateIf,
  ValidationOptions,
} from 'class-validator';
import { SCOPE_NAME_PATTERN } from '../credentials/scope-match';

export const METADATA_MAX_BYTES = 4096;
const METADATA_MAX_DEPTH = 5;

function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Object.values(value as Record<string, unknown>);
  return 1 + (children.length === 0 ? 0 : Math.max(...children.map(depth)));
}

/**
 * Whether PostgreSQL's jsonb can hold every key and string of `value` as it is: it refuses
 * NUL (`\u0000`) and lone surrogates, which JSON itself allows.
 */
function storable(value: unknown): boolean {
  if (typeof value === 'string') return isStorableText(value);
  if (value === null || typeof value !== 'object') return true;
  return Object.entries(value as Record<string, unknown>).every(([key, child]) => isStorableText(key) && storable(child));
}

/** In a `u` regex a surrogate pair is one code point: only a lone surrogate is `Cs`. */
const NUL_OR_LONE_SURROGATE = /[\u0000\p{Cs}]/u;

function isStorableText(text: string): boolean {
  return !NUL_OR_LONE_SURROGATE.test(text);
}

/** A JSON object of free-form labels: at most 4 KiB serialized and 5 levels deep, without NUL or lone surrogates. */
export function IsMetadata(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyKey) =>
    registerDecorator({
      name: 'isMetadata',
      target: target.constructor,
      propertyName: propertyKey as string,
      options: {
        message: `$property must be a JSON object of at most ${METADATA_MAX_BYTES} bytes and ${METADATA_MAX_DEPTH} levels, without NUL characters or lone surrogates`,
        ...options,
      },
      validator: {
        validate(value: unknown): boolean {
          if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
          return Buffer.byteLength(JSON.stringify(value), 'utf8') <= METADATA_MAX_BYTES && depth(value) <= METADATA_MAX_DEPTH && storable(value);
        },
      },
    });
}

/**
 * Text a person typed: no control characters (so no NUL) and no lone surrogates (which no
 * UTF-8 can carry: the database would store U+FFFD instead), trimmed of nothing.
 */
export const PRINTABLE = /^[^\p{Cc}\p{Cs}]*$/u;

/**
 * The field may be left out, but `null` is validated like any other value, so it is
 * refused unless the field's own rules allow it. (`@IsOptional()` lets `null` through
 * unvalidated, which turned `{"name": null}` into a 500 from a NOT NULL column.)
 * Fields where `null` means "clear" use `@IsOptional()` on purpose.
 */
export const IsOmittable = () => ValidateIf((_, value) => value !== undefined);

/** RFC 3339 date-time with its offset: "2027-01-01T00:00:00Z", never a bare date or local time. */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

export const IsTimestamp = () =>
  applyDecorators(
    IsDateString({ strict: true }),
    Matches(RFC3339, { message: '$property must be an RFC 3339 date-time with a time zone, such as 2027-01-01T00:00:00Z' }),
  );

/**
 * A list of scope names (catalogued or wildcards; whether they are catalogued is the service's
 * check): at most 100, no repeats, each at most 128 characters such as `orders:read` or `orders:*`.
 */
export const IsScopeList = () =>
  applyDecorators(
    IsArray(),
    ArrayMaxSize(100),
    ArrayUnique(),
    IsString({ each: true }),
    MaxLength(128, { each: true }),
    Matches(SCOPE_NAME_PATTERN, { each: true, message: 'each value in $property must be a scope name such as orders:read' }),
  );

/**
 * A name people read in lists and logs: no control characters, no lone surrogates, and no
 * format characters (Unicode category Cf: the bidi controls U+202A–U+202E and U+2066–U+2069,
 * the zero-width U+200B–U+200F, U+FEFF and the rest), which can make one name look like another.
 */
export const NAME_TEXT = /^[^\p{Cc}\p{Cs}\p{Cf}]*$/u;

export const IsNameText = () =>
  Matches(NAME_TEXT, { message: '$property must not contain control, bidi or zero-width (format) characters' });
