import { crc32 } from 'node:zlib';

/**
 * The key format, pure: `sk_<env>_<body><checksum>`. The one implementation, used by the
 * Keyhouse service itself (src/credentials/key-format.ts) and by services that receive keys.
 *
 * body: 43 base62 characters (256 random bits); checksum: CRC32 of everything before it,
 * in base62, padded to 6. A typo is caught offline and a malformed key never reaches Keyhouse.
 */
export type KeyEnvironment = 'live' | 'test';

const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 43; // ceil(256 / log2(62))
const CHECKSUM_LENGTH = 6; // ceil(32 / log2(62))
const PREFIX_LENGTH = 'sk_live_'.length;
export const KEY_LENGTH = PREFIX_LENGTH + BODY_LENGTH + CHECKSUM_LENGTH;
const KEY_PATTERN = /^sk_(live|test)_([0-9A-Za-z]{49})$/;

export interface ParsedKey {
  environment: KeyEnvironment;
  /** The whole key as given, known to be well formed. */
  key: string;
}

/** Checks prefix, length, alphabet and checksum; `null` for anything malformed. */
export function parseKey(candidate: string): ParsedKey | null {
  if (typeof candidate !== 'string' || candidate.length !== KEY_LENGTH || !KEY_PATTERN.test(candidate)) return null;
  // The checksum is compared as a number, without encoding the CRC.
  const split = KEY_LENGTH - CHECKSUM_LENGTH;
  if (crc32(candidate.slice(0, split)) >>> 0 !== base62Value(candidate, split)) return null;
  return { environment: candidate.startsWith('sk_live_') ? 'live' : 'test', key: candidate };
}

/** The six checksum characters that end a key whose other characters are `unsigned`. */
export function keyChecksum(unsigned: string): string {
  let value = crc32(unsigned) >>> 0;
  let text = '';
  do {
    text = BASE62_ALPHABET[value % 62] + text;
    value = Math.floor(value / 62);
  } while (value > 0);
  return text.padStart(CHECKSUM_LENGTH, '0');
}

/** What an operator sees instead of the key: the prefix and the first and last four characters of the rest. */
export function keyHint(key: string): string {
  const rest = key.slice(PREFIX_LENGTH);
  return `${key.slice(0, PREFIX_LENGTH)}${rest.slice(0, 4)}...${rest.slice(-4)}`;
}

/** The number a run of base62 digits (known to be in the alphabet) spells, from `start` to the end. */
function base62Value(text: string, start: number): number {
  let value = 0;
  for (let i = start; i < text.length; i++) value = value * 62 + DIGIT_VALUES[text.charCodeAt(i)];
  return value;
}

const DIGIT_VALUES = new Uint8Array(128);
for (let i = 0; i < BASE62_ALPHABET.length; i++) DIGIT_VALUES[BASE62_ALPHABET.charCodeAt(i)] = i;
