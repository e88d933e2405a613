import { randomBytes, randomInt } from 'node:crypto';
import { InvalidConfiguration, loadConfig } from './config';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_!@#$%';
const pick = () => ALPHABET[randomInt(ALPHABET.length)];
const repeatTo = (unit: string, length: number) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
const length = () => 32 + randomInt(97);

/** Secrets of 32 characters or more that are plainly not random, by class. */
const lowEntropy: Record<string, () => string> = {
  'one repeated character': () => repeatTo(pick(), length()),
  'a short unit repeated': () => repeatTo(Array.from({ length: 2 + randomInt(11) }, pick).join(''), length()),
  'a run of consecutive characters': () => {
    const step = [1, -1, 2][randomInt(3)];
    const start = step > 0 ? 33 + randomInt(20) : 126 - randomInt(20);
    return Array.from({ length: 32 + randomInt(10) }, (_, i) => String.fromCharCode(start + ((i * step) % 40))).join(
      '',
    );
  },
  'one character with a few others sprinkled in': () => {
    const chars = [...repeatTo(pick(), length())];
    for (let i = 0; i < 3; i++) chars[randomInt(chars.length)] = pick();
    return chars.join('');
  },
  // At most one bit a character: 64 characters of it are 64 bits, short of the rule.
  'two characters at random, up to 64 of them': () =>
    Array.from({ length: 32 + randomInt(33) }, () => 'ab'[randomInt(2)]).join(''),
};

/** What operators generate: each must pass every time. */
const random: Record<string, () => string> = {
  'openssl rand -base64 48': () => randomBytes(48).toString('base64'),
  'openssl rand -hex 16 (32 characters)': () => randomBytes(16).toString('hex'),
  'openssl rand -hex 32': () => randomBytes(32).toString('hex'),
  '32 bytes of base64url': () => randomBytes(32).toString('base64url'),
  'a key-shaped text (sk_live_ and 32 random letters and digits)': () =>
    `sk_live_${Array.from({ length: 32 }, () => ALPHABET[randomInt(62)]).join('')}`,
  '32 random letters and digits': () => Array.from({ length: 32 }, () => ALPHABET[randomInt(62)]).join(''),
};

const load = (secret: string) => loadConfig({ KEY_HASH_SECRET: secret, DATA_DIR: 'memory://' });

describe(loadConfig.name, () => {
  it.each(Object.entries(lowEntropy))('should refuse a KEY_HASH_SECRET of %s, naming the variable', (_, generate) => {
    for (let i = 0; i < 300; i++) {
      const secret = generate();
      expect(secret.length).toBeGreaterThanOrEqual(32);
      let error: unknown;
      try {
        load(secret);
      } catch (err) {
        error = err;
      }
      expect({ secret, error: error instanceof InvalidConfiguration ? 'refused' : 'accepted' }).toEqual({
        secret,
        error: 'refused',
      });
      expect((error as Error).message).toContain('KEY_HASH_SECRET is not random enough');
      expect((error as Error).message).not.toContain(secret);
    }
  });

  it.each(Object.entries(random))('should accept a KEY_HASH_SECRET made by %s', (_, generate) => {
    for (let i = 0; i < 2000; i++) {
      const secret = generate();
      expect(load(secret).KEY_HASH_SECRET).toBe(secret);
    }
  });

  it('should still refuse a secret shorter than 32 characters', () => {
    expect(() => load(randomBytes(15).toString('hex'))).toThrow('KEY_HASH_SECRET must be at least 32 characters');
  });
});
