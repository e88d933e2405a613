import { BadInput } from './errors';

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

export function decodeCursor(raw: string | undefined): Cursor | null {
  if (!raw) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((p) => typeof p === 'string' && p.length <= 64)) {
      return { at: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new BadInput('The cursor is not one this service issued.', { errors: [{ pointer: 'query/cursor', detail: 'invalid cursor' }] });
}

/** Builds a page from `limit + 1` rows: the extra row only says there is more. */
export function toPage<R, T>(rows: R[], limit: number, map: (row: R) => T, cursorOf: (row: R) => Cursor): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { data: kept.map(map), next_cursor: more ? encodeCursor(cursorOf(kept[kept.length - 1]!)) : null };
}
