import fc from 'fast-check';
import { EARLIEST_INSTANT, LATEST_INSTANT, parseTimestamp } from './validators';

describe('parseTimestamp', () => {
  it('should read every instant of the range as toISOString writes it, and with an offset', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: EARLIEST_INSTANT, max: LATEST_INSTANT - 1 }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (at, offset) => {
          const iso = new Date(at).toISOString();
          expect(parseTimestamp(iso)).toBe(at);
          // The same instant written in local time at `offset` minutes east of UTC.
          const local = new Date(at + offset * 60_000).toISOString().slice(0, -1);
          const sign = offset < 0 ? '-' : '+';
          const abs = Math.abs(offset);
          const text = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          if (/^\d{4}-/.test(local)) {
            const parsed = parseTimestamp(text);
            if (parsed !== null) expect(parsed).toBe(at);
          }
        },
      ),
    );
  });

  it.each([
    '2026-02-30T00:00:00Z',
    '2027-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-W01',
    '2026-W01-1',
    '2026-001',
    '2026-01-01',
    '2026',
    '0000-01-01',
    '0000-01-01T00:00:00Z',
    '0070-01-01T00:00:00Z',
    '1969-12-31T23:59:59Z',
    '9999-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '+010000-01-01T00:00:00Z',
    '+002026-01-01T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-12-31T23:59:60Z',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01T00:00:00+01:60',
    '2026-01-01T00:00:00',
    '2026-01-01 00:00:00Z',
    '2026-01-01T00:00Z',
  ])('should refuse %s', (text) => {
    expect(parseTimestamp(text)).toBeNull();
  });

  it('should take the ends of the range, leap days and offsets', () => {
    expect(parseTimestamp('1970-01-01T00:00:00Z')).toBe(0);
    expect(parseTimestamp('1970-01-01T01:00:00+01:00')).toBe(0);
    expect(parseTimestamp('9998-12-31T23:59:59.999Z')).toBe(LATEST_INSTANT - 1);
    expect(parseTimestamp('2028-02-29T12:00:00.123456789z')).toBe(Date.UTC(2028, 1, 29, 12, 0, 0, 123));
    expect(parseTimestamp('2026-01-01T00:00:00-00:30')).toBe(Date.UTC(2026, 0, 1, 0, 30));
  });
});
