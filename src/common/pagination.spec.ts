import fc from 'fast-check';
import { BadInput } from './errors';
import { CREATED_AT_AND_ID, CursorPart, CursorShape, decodeCursor, encodeCursor, toPage } from './pagination';

const ANY: CursorShape = { at: () => true, id: () => true };
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const instant = fc
  .date({ min: new Date(0), max: new Date('9998-12-31T23:59:59.999Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

describe('pagination', () => {
  it('should read back every cursor it writes', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.string({ maxLength: 64 }), (at, id) => {
        expect(decodeCursor(encodeCursor({ at, id }), ANY)).toEqual({ at, id });
      }),
    );
    fc.assert(
      fc.property(instant, fc.uuid({ version: 4 }), (at, id) => {
        expect(decodeCursor(encodeCursor({ at, id }), CREATED_AT_AND_ID)).toEqual({ at, id });
      }),
    );
  });

  it('should treat no cursor as the first page', () => {
    expect(decodeCursor(undefined, CREATED_AT_AND_ID)).toBeNull();
    expect(decodeCursor('', CREATED_AT_AND_ID)).toBeNull();
  });

  it.each([
    ['not base64 JSON', 'not-a-cursor'],
    ['a JSON object', base64url({ at: 'x', id: 'y' })],
    ['a number where a string belongs', base64url(['2026-01-01T00:00:00.000Z', 42])],
    ['three parts', base64url(['a', 'b', 'c'])],
    ['two strings that are no time and no id', 'WyJhIiwiYiJd'],
    ['an impossible date', base64url(['2026-02-30T00:00:00.000Z', '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11'])],
    ['a five-digit year', base64url(['+010000-01-01T00:00:00.000Z', '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11'])],
    [
      'the year 0000, which PostgreSQL has no date for',
      base64url(['0000-01-01T00:00:00.000Z', '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11']),
    ],
    ['a time before 1970', base64url(['1969-12-31T23:59:59.999Z', '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11'])],
    ['the year 9999', base64url(['9999-01-01T00:00:00.000Z', '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11'])],
    ['an id that is no UUID', base64url(['2026-01-01T00:00:00.000Z', '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a1'])],
    ['a NUL byte', 'AA'],
    ['standard base64 padding', `${base64url(['2026-01-01T00:00:00.000Z', '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11'])}=`],
  ])('should refuse %s as a cursor it did not issue', (_, raw) => {
    expect(() => decodeCursor(raw, CREATED_AT_AND_ID)).toThrow(BadInput);
  });

  it('should refuse any JSON value that is not a pair of a time and an id', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(() => decodeCursor(base64url(value), CREATED_AT_AND_ID)).toThrow(BadInput);
      }),
    );
  });

  it('should take as an event id only a positive bigint', () => {
    expect(['1', '42', '9223372036854775807'].map(CursorPart.bigint)).toEqual([true, true, true]);
    expect(['0', '-1', '01', '1e5', '9223372036854775808', '99999999999999999999', ''].map(CursorPart.bigint)).toEqual(
      Array(7).fill(false),
    );
  });

  it('should fetch one row more than the page to know whether another page follows', () => {
    const rows = [1, 2, 3, 4];
    const cursorOf = (n: number) => ({ at: String(n), id: String(n) });
    const full = toPage(rows, 3, (n) => n * 10, cursorOf);
    expect(full.data).toEqual([10, 20, 30]);
    expect(decodeCursor(full.next_cursor!, ANY)).toEqual({ at: '3', id: '3' });
    expect(toPage(rows.slice(0, 3), 3, (n) => n, cursorOf).next_cursor).toBeNull();
    expect(toPage([], 3, (n) => n, cursorOf)).toEqual({ data: [], next_cursor: null });
  });
});
