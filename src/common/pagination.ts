import { BadInput } from './errors';
import { parseTimestamp } from './validators';

/** `{"data": [...], "next_cursor": ...}`, the shape of every list. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** A keyset position: the sort column's value and the id that breaks ties. Opaque to callers. */
export interface Cursor {
  at: string;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id]), 'utf8').toString('base64url');
}

/** What each part of a list's cursor must be: the same checks as the columns it is compared with. */
export interface CursorShape {
  at: (part: string) => boolean;
  id: (part: string) => boolean;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BIGINT_MAX = 9_223_372_036_854_775_807n;

/**
 * Parts of cursors: what `toISOString` writes for an instant in the range the API takes (a
 * year such as 0000, which PostgreSQL has no date for, is no position in any list), a UUID,
 * a positive bigint, nothing.
 */
export const CursorPart = {
  instant: (part: string) =>
    ISO_INSTANT.test(part) && parseTimestamp(part) !== null && new Date(part).toISOString() === part,
  uuid: (part: string) => UUID.test(part),
  bigint: (part: string) => /^[1-9][0-9]{0,18}$/.test(part) && BigInt(part) <= BIGINT_MAX,
  empty: (part: string) => part === '',
};

/** The cursor of lists ordered by creation time and id. */
export const CREATED_AT_AND_ID: CursorShape = { at: CursorPart.instant, id: CursorPart.uuid };

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Reads back a cursor `encodeCursor` wrote for a list of this shape: anything else, however
 * well formed (base64url of other JSON, parts of the wrong type or content), is a 400
 * naming `cursor`, never a value handed on to the query.
 */
export function decodeCursor(raw: string | undefined, shape: CursorShape): Cursor | null {
  if (!raw) return null;
  try {
    const parsed: unknown = BASE64URL.test(raw) ? JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) : null;
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((p) => typeof p === 'string' && p.length <= 128)) {
      const [at, id] = parsed as [string, string];
      if (shape.at(at) && shape.id(id)) return { at, id };
    }
  } catch {
    // fall through to the error below
  }
  throw new BadInput('The cursor is not one this service issued for this list.', {
    errors: [{ pointer: 'query/cursor', detail: 'cursor must be the next_cursor of a page of this list' }],
  });
}

/** Builds a page from `limit + 1` rows: the extra row only says there is more. */
export function toPage<R, T>(rows: R[], limit: number, map: (row: R) => T, cursorOf: (row: R) => Cursor): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { data: kept.map(map), next_cursor: more ? encodeCursor(cursorOf(kept[kept.length - 1])) : null };
}
