import fc from 'fast-check';
import { BadInput } from './errors';
import { decodeCursor, encodeCursor, toPage } from './pagination';

describe('pagination', () => {
  it('should read back every cursor it writes', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.string({ maxLength: 64 }), (at, id) => {
        expect(decodeCursor(encodeCursor({ at, id }))).toEqual({ at, id });
      }),
    );
  });

  it('should treat no cursor as the first page', () => {
    expect(decodeCursor(undefined)).toBeNull();
    expect(decodeCursor('')).toBeNull();
  });

  it.each([
    ['not base64 JSON', 'not-a-cursor'],
    ['a JSON object', Buffer.from('{"at":"x","id":"y"}').toString('base64url')],
    ['a number where a string belongs', Buffer.from('["2026-01-01T00:00:00.000Z",42]').toString('base64url')],
    ['three parts', Buffer.from('["a","b","c"]').toString('base64url')],
    ['an overlong part', Buffer.from(JSON.stringify(['a', 'b'.repeat(65)])).toString('base64url')],
  ])('should refuse %s as a cursor it did not issue', (_, raw) => {
    expect(() => decodeCursor(raw)).toThrow(BadInput);
  });

  it('should fetch one row more than the page to know whether another page follows', () => {
    const rows = [1, 2, 3, 4];
    const cursorOf = (n: number) => ({ at: String(n), id: String(n) });
    const full = toPage(rows, 3, (n) => n * 10, cursorOf);
    expect(full.data).toEqual([10, 20, 30]);
    expect(decodeCursor(full.next_cursor!)).toEqual({ at: '3', id: '3' });
    expect(toPage(rows.slice(0, 3), 3, (n) => n, cursorOf).next_cursor).toBeNull();
    expect(toPage([], 3, (n) => n, cursorOf)).toEqual({ data: [], next_cursor: null });
  });
});
