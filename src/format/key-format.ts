import { randomBytes } from 'node:crypto';
import baseX from 'base-x';
import type { KeyEnvironment } from './key-environment';
import { keyChecksum } from '../../packages/client/src/key-format';

export { ENVIRONMENTS, type KeyEnvironment } from './key-environment';
// Parsing and the checksum live in the client package, so that services receiving keys check them
// with the very code Keyhouse uses.
export { KEY_LENGTH, keyHint, parseKey, type ParsedKey } from '../../packages/client/src/key-format';

/**
 * The key format: `sk_<env>_<body><checksum>`.
 *
 * body: 32 bytes (256 bits) from the CSPRNG in base62, left-padded to 43 characters;
 * checksum: CRC32 of everything before it in base62, padded to 6 (packages/client/src/key-format.ts).
 */
const base62 = baseX('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
const RANDOM_BYTES = 32;
const BODY_LENGTH = 43; // ceil(256 / log2(62))

export function generateKey(environment: KeyEnvironment): string {
  const body = base62.encode(randomBytes(RANDOM_BYTES)).padStart(BODY_LENGTH, '0');
  const unsigned = `sk_${environment}_${body}`;
  return unsigned + keyChecksum(unsigned);
}
