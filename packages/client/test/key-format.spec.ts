import { crc32 } from 'node:zlib';
import baseX from 'base-x';
import fc from 'fast-check';
import { parseKey as serviceParseKey, generateKey } from '../../../src/credentials/key-format';
import { KEY_LENGTH, keyChecksum, parseKey } from '@keyhouse/client';

const base62 = baseX('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');

describe('parseKey in the client package', () => {
  it('should be the very function the service parses keys with', () => {
    expect(serviceParseKey).toBe(parseKey);
  });

  it('should accept the keys Keyhouse generates and reject a typo, a short key and another prefix', () => {
    const key = generateKey('live');
    expect(parseKey(key)).toEqual({ environment: 'live', key });
    const last = key[KEY_LENGTH - 1] === 'a' ? 'b' : 'a';
    expect(parseKey(key.slice(0, -1) + last)).toBeNull();
    expect(parseKey(key.slice(0, -1))).toBeNull();
    expect(parseKey(key.replace('sk_live_', 'pk_live_'))).toBeNull();
    expect(parseKey(undefined as unknown as string)).toBeNull();
  });

  it('should write the checksum as base-x writes it (CRC32 in base62, padded to 6), leading zero bytes included', () => {
    const baseXChecksum = (text: string) => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(crc32(text) >>> 0);
      return base62.encode(bytes).padStart(6, '0');
    };
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => expect(keyChecksum(text)).toBe(baseXChecksum(text))),
      { numRuns: 3000 },
    );
    // Texts whose CRC32 starts with a zero byte (base-x writes one '0' per zero byte), found by search.
    let found = 0;
    for (let i = 0; found < 5 && i < 100_000; i++) {
      const text = `sk_live_${i}`;
      if (crc32(text) >>> 0 >= 0x01000000) continue;
      found++;
      expect(keyChecksum(text)).toBe(baseXChecksum(text));
    }
    expect(found).toBe(5);
  });
});
