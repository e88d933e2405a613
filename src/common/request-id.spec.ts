import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { requestId } from './request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const withId = (value: string | string[] | undefined) =>
  ({ headers: { 'x-request-id': value } }) as unknown as IncomingMessage;

/** Ids no log line, audit event or header should carry as sent: control characters, line breaks, non-ASCII, spaces, quotes, too long. */
const hostile = fc.oneof(
  fc
    .tuple(
      fc.string({ maxLength: 20 }),
      fc.constantFrom(
        '\n',
        '\r\n',
        '\u0000',
        '\u001b[31m',
        '\t',
        ' ',
        '"',
        "'",
        '<',
        '\\',
        '/',
        '%',
        '\u2028',
        '\u202e',
        'é',
        '🔑',
        '\ud800',
        ',',
      ),
      fc.string({ maxLength: 20 }),
    )
    .map(([a, bad, b]) => a + bad + b),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }).filter((s) => !/^[A-Za-z0-9._:-]+$/.test(s)),
  fc.integer({ min: 129, max: 20_000 }).map((n) => 'a'.repeat(n)),
  fc.constant(''),
);

describe('requestId', () => {
  it('should keep a short id of letters, digits and . _ : -', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), (id) => {
        expect(requestId(withId(id))).toBe(id);
      }),
    );
  });

  it('should make a new id for any other', () => {
    fc.assert(
      fc.property(hostile, (id) => {
        expect(requestId(withId(id))).toMatch(UUID);
      }),
    );
  });

  it('should make a new id when there is none, or several', () => {
    expect(requestId(withId(undefined))).toMatch(UUID);
    expect(requestId(withId(['a', 'b']))).toMatch(UUID);
  });
});
