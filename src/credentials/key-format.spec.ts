import fc from 'fast-check';
import { ENVIRONMENTS, generateKey, KEY_LENGTH, keyHint, parseKey } from './key-format';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const environment = fc.constantFrom(...ENVIRONMENTS);
/** A replacement character: mostly base62 (the hard case for a checksum), some outside it. */
const replacement = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...BASE62) },
  { weight: 1, arbitrary: fc.constantFrom('_', '-', '+', '/', '=', ' ', 'é', '\0') },
);

describe('key format', () => {
  it('should parse every key it generates, with its environment', () => {
    fc.assert(
      fc.property(environment, (env) => {
        const key = generateKey(env);
        expect(key).toHaveLength(KEY_LENGTH);
        expect(key.startsWith(`sk_${env}_`)).toBe(true);
        expect(key.slice(8)).toMatch(/^[0-9A-Za-z]+$/);
        expect(parseKey(key)).toEqual({ environment: env, key });
      }),
      { numRuns: 2000 },
    );
  });

  it('should carry at least 256 random bits: 43 base62 characters before a 6-character checksum', () => {
    // 62^43 > 2^256: the body alone can hold every 32-byte value.
    expect(43 * Math.log2(62)).toBeGreaterThanOrEqual(256);
    expect(KEY_LENGTH).toBe('sk_live_'.length + 43 + 6);
  });

  it('should reject any single changed character', () => {
    fc.assert(
      fc.property(environment, fc.nat({ max: KEY_LENGTH - 1 }), replacement, (env, at, char) => {
        const key = generateKey(env);
        fc.pre(key[at] !== char);
        const changed = key.slice(0, at) + char + key.slice(at + 1);
        expect(parseKey(changed)).toBeNull();
      }),
      { numRuns: 5000 },
    );
  });

  it('should reject two swapped neighbouring characters', () => {
    fc.assert(
      fc.property(environment, fc.integer({ min: 8, max: KEY_LENGTH - 2 }), (env, at) => {
        const key = generateKey(env);
        fc.pre(key[at] !== key[at + 1]);
        const swapped = key.slice(0, at) + key[at + 1] + key[at] + key.slice(at + 2);
        expect(parseKey(swapped)).toBeNull();
      }),
      { numRuns: 2000 },
    );
  });

  it('should reject a truncated key', () => {
    fc.assert(
      fc.property(environment, fc.integer({ min: 0, max: KEY_LENGTH - 1 }), (env, length) => {
        expect(parseKey(generateKey(env).slice(0, length))).toBeNull();
      }),
    );
  });

  it('should reject a padded key', () => {
    fc.assert(
      fc.property(environment, fc.string({ minLength: 1, maxLength: 10 }), fc.boolean(), (env, pad, before) => {
        const key = generateKey(env);
        expect(parseKey(before ? pad + key : key + pad)).toBeNull();
      }),
    );
  });

  it.each(['sk_prod_', 'pk_live_', 'SK_LIVE_', 'sk-live_', 'sklive__', 'xx_test_'])(
    'should reject the prefix %s',
    (prefix) => {
      const key = generateKey('live');
      expect(parseKey(prefix + key.slice(8))).toBeNull();
    },
  );

  it('should reject a live body under the test prefix: the checksum covers the prefix', () => {
    const key = generateKey('live');
    expect(parseKey(`sk_test_${key.slice(8)}`)).toBeNull();
  });

  it('should generate no collisions in 100,000 keys', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(generateKey(i % 2 === 0 ? 'live' : 'test').slice(8, 8 + 43));
    expect(seen.size).toBe(100_000);
  });

  it('should hint with the prefix and the first and last four characters, never more', () => {
    const key = generateKey('test');
    const hint = keyHint(key);
    expect(hint).toBe(`sk_test_${key.slice(8, 12)}...${key.slice(-4)}`);
    expect(hint.replace('...', '').length).toBe('sk_test_'.length + 8);
  });
});

describe('npm run keygen', () => {
  const argv = process.argv;
  afterEach(() => {
    process.argv = argv;
    jest.restoreAllMocks();
  });

  /** Runs scripts/keygen.ts as `node keygen.js ...args` would, capturing what it writes. */
  function keygen(...args: string[]): { stdout: string; stderr: string; exitCode: number | undefined } {
    const out: string[] = [];
    const err: string[] = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
    let exitCode: number | undefined;
    jest.spyOn(process, 'exit').mockImplementation(((code?: number) => {
      exitCode = code;
      throw new Error('exit');
    }) as never);
    process.argv = ['node', 'keygen.js', ...args];
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the script runs as it is loaded: a fresh load per run.
      jest.isolateModules(() => require('../../scripts/keygen'));
    } catch (e) {
      if ((e as Error).message !== 'exit') throw e;
    }
    return { stdout: out.join(''), stderr: err.join(''), exitCode };
  }

  it('should print one well-formed live key on a line of its own', () => {
    const { stdout, exitCode } = keygen();
    expect(exitCode).toBeUndefined();
    expect(stdout).toMatch(/^sk_live_[0-9A-Za-z]{49}\n$/);
    expect(parseKey(stdout.trim())?.environment).toBe('live');
  });

  it('should print a test key when asked', () => {
    expect(parseKey(keygen('test').stdout.trim())?.environment).toBe('test');
  });

  it('should refuse an unknown environment with a usage line and no key', () => {
    const { stdout, stderr, exitCode } = keygen('prod');
    expect(exitCode).toBe(64);
    expect(stdout).toBe('');
    expect(stderr).toContain('usage');
  });
});
