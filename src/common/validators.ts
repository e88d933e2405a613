import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsString,
  Matches,
  MaxLength,
  registerDecorator,
  ValidateIf,
  ValidationOptions,
} from 'class-validator';
import { SCOPE_NAME_PATTERN } from './scope-name';

export const METADATA_MAX_BYTES = 4096;
const METADATA_MAX_DEPTH = 5;

function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Object.values(value as Record<string, unknown>);
  return 1 + (children.length === 0 ? 0 : Math.max(...children.map(depth)));
}

/**
 * Whether PostgreSQL's jsonb can hold every key and string of `value` as it is: it refuses
 * NUL (`\u0000`) and lone surrogates, which JSON itself allows. Nor can a number JSON.parse
 * read as Infinity (`1e999`) be written back: it would be stored as null.
 */
function storable(value: unknown): boolean {
  if (typeof value === 'string') return isStorableText(value);
  if (typeof value === 'number') return Number.isFinite(value);
  if (value === null || typeof value !== 'object') return true;
  return Object.entries(value as Record<string, unknown>).every(
    ([key, child]) => isStorableText(key) && storable(child),
  );
}

/** In a `u` regex a surrogate pair is one code point: only a lone surrogate is `Cs`. */
// eslint-disable-next-line no-control-regex -- NUL is the character looked for: PostgreSQL text cannot hold it.
const NUL_OR_LONE_SURROGATE = /[\u0000\p{Cs}]/u;

function isStorableText(text: string): boolean {
  return !NUL_OR_LONE_SURROGATE.test(text);
}

/** A JSON object of free-form labels: at most 4 KiB serialized and 5 levels deep, without NUL, lone surrogates or infinite numbers. */
export function IsMetadata(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyKey) =>
    registerDecorator({
      name: 'isMetadata',
      target: target.constructor,
      propertyName: propertyKey as string,
      options: {
        message: `$property must be a JSON object of at most ${METADATA_MAX_BYTES} bytes and ${METADATA_MAX_DEPTH} levels, without NUL characters, lone surrogates or numbers too large for a double`,
        ...options,
      },
      validator: {
        validate(value: unknown): boolean {
          if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
          return (
            Buffer.byteLength(JSON.stringify(value), 'utf8') <= METADATA_MAX_BYTES &&
            depth(value) <= METADATA_MAX_DEPTH &&
            storable(value)
          );
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
export const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * The instants the admin API takes, as milliseconds since the epoch: from
 * 1970-01-01T00:00:00Z up to, not including, 9999-01-01T00:00:00Z. The year 9999 stays
 * free so that rounding up to a whole hour or day, or adding a grace period, never
 * reaches a five-digit year, which RFC 3339 cannot write.
 */
export const EARLIEST_INSTANT = Date.UTC(1970, 0, 1);
export const LATEST_INSTANT = Date.UTC(9999, 0, 1);
export const TIMESTAMP_RANGE = '1970-01-01T00:00:00Z to 9998-12-31T23:59:59Z';

/**
 * The instant an RFC 3339 date-time names, or null: it must be a real calendar day
 * (JavaScript would take 30 February as 2 March), a time of 00:00:00 to 23:59:59 (no
 * leap second), an offset of at most ±23:59, and lie in the range above.
 */
export function parseTimestamp(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const [oh, om] = [Number(m[9] ?? 0), Number(m[10] ?? 0)];
  if (
    mo < 1 ||
    mo > 12 ||
    d < 1 ||
    d > new Date(Date.UTC(y, mo, 0)).getUTCDate() ||
    h > 23 ||
    mi > 59 ||
    s > 59 ||
    oh > 23 ||
    om > 59
  )
    return null;
  // Date.UTC reads years 0 to 99 as 1900 to 1999: the year is checked as written too.
  const local = Date.UTC(y, mo - 1, d, h, mi, s, Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3)));
  const at = local - (m[8] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  return y >= 1000 && at >= EARLIEST_INSTANT && at < LATEST_INSTANT ? at : null;
}

/** An RFC 3339 date-time with a time zone, in the range the API takes (see `parseTimestamp`). */
export const IsTimestamp = () =>
  applyDecorators(
    ApiPropertyOptional({ type: String, format: 'date-time' }),
    (target: object, propertyKey: string | symbol) =>
      registerDecorator({
        name: 'isTimestamp',
        target: target.constructor,
        propertyName: propertyKey as string,
        options: {
          message: `$property must be an RFC 3339 date-time with a time zone, such as 2027-01-01T00:00:00Z, from ${TIMESTAMP_RANGE}`,
        },
        validator: { validate: (value: unknown) => parseTimestamp(value) !== null },
      }),
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
    Matches(SCOPE_NAME_PATTERN, {
      each: true,
      message: 'each value in $property must be a scope name such as orders:read',
    }),
  );

/**
 * A name people read in lists and logs: no control characters, no lone surrogates, and no
 * format characters (Unicode category Cf: the bidi controls U+202A–U+202E and U+2066–U+2069,
 * the zero-width U+200B–U+200F, U+FEFF and the rest), which can make one name look like another.
 */
export const NAME_TEXT = /^[^\p{Cc}\p{Cs}\p{Cf}]*$/u;

export const IsNameText = () =>
  Matches(NAME_TEXT, { message: '$property must not contain control, bidi or zero-width (format) characters' });
