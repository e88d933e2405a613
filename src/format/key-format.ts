import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import baseX from 'base-x';
import type { KeyEnvironment } from './key-environment';

export { ENVIRONMENTS, type KeyEnvironment } from './key-environment';

/**
 * The key format, pure: `sk_<env>_<body><checksum>`.
 *
 * body: 32 bytes (256 bits) from the CSPRNG in base62, left-padded to 43 characters;
 * checksum: CRC32 of everything before it in base62, padded to 6. A scanner can tell a
 * real key from a typo offline, and a malformed key never reaches the database.
 */
const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const base62 = baseX(BASE62_ALPHABET);
const RANDOM_BYTES = 32;
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

export function generateKey(environment: KeyEnvironment): string {
  const body = base62.encode(randomBytes(RANDOM_BYTES)).padStart(BODY_LENGTH, '0');
  const unsigned = `sk_${environment}_${body}`;
  return unsigned + checksum(unsigned);
}

/** Checks prefix, length, alphabet and checksum; `null` for anything malformed. */
export function parseKey(candidate: string): ParsedKey | null {
  if (candidate.length !== KEY_LENGTH || !KEY_PATTERN.test(candidate)) return null;
  // Every call of the hot path parses two keys: the checksum is compared as a number, without encoding the CRC.
  const split = KEY_LENGTH - CHECKSUM_LENGTH;
  if (crc32(candidate.slice(0, split)) >>> 0 !== base62Value(candidate, split)) return null;
  return { environment: candidate.startsWith('sk_live_') ? 'live' : 'test', key: candidate };
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

function checksum(text: string): string {
  const crc = crc32(text) >>> 0;
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc);
  return base62.encode(bytes).padStart(CHECKSUM_LENGTH, '0');
}
