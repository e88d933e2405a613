import { randomBytes, randomInt } from 'node:crypto';
import { getMetadataStorage } from 'class-validator';
import fc from 'fast-check';
import { EXAMPLE_KEYS } from '../format/example-keys';
import { generateKey } from '../format/key-format';
import {
  AppConfig,
  configWarnings,
  InvalidConfiguration,
  keyHashSecrets,
  knownVariables,
  loadConfig,
  SINGLE_SECRET_ID,
} from './config';
import { oneEditApart } from './config-messages';

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

const refusal = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig({ DATA_DIR: 'memory://', ...env });
  } catch (err) {
    if (err instanceof InvalidConfiguration) return err.message;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};
/** The lines of a refusal after its heading, one per variable. */
const lines = (message: string) => message.split('\n').slice(1);

const variables = [
  ...new Set(
    getMetadataStorage()
      .getTargetValidationMetadatas(AppConfig, '', true, false)
      .map((m) => m.propertyName),
  ),
];
const VALID_KEY = generateKey('live');
const SECRET = 'N7q2Vx9Lm4Kp8Rt3Wz6Yb1Hc5Jd0Fg2S';
const OLD_SECRET = 'P3k8Wq1Zr6Tn4Yv9Xm2Lb7Hc5Jd0Fg2Q';

describe('the configuration, variable by variable', () => {
  it('should find every variable of AppConfig', () => {
    expect(variables).toEqual(expect.arrayContaining(['PORT', 'HOST', 'KEY_HASH_SECRETS', 'CORS_ORIGINS']));
    expect(knownVariables().sort()).toEqual([...variables].sort());
  });

  it('should say one thing about PORT=abc', () => {
    expect(lines(refusal({ PORT: 'abc' }))).toEqual(['  PORT: PORT must be an integer from 0 to 65535']);
  });

  it.each(['0x50', '1e3', '80.5', ' ', '-1', '65536', '８０'])(
    'should refuse PORT=%j with the same one line',
    (port) => {
      expect(lines(refusal({ PORT: port }))).toEqual(['  PORT: PORT must be an integer from 0 to 65535']);
    },
  );

  it('should list every bad variable, one line each', () => {
    const message = refusal({
      PORT: 'abc',
      TRUSTED_PROXIES: '10.0.0.0/99',
      BOOTSTRAP_ROOT_KEY: 'hello',
      MIGRATIONS_RUN: 'yes',
    });
    expect(lines(message).map((l) => l.split(':')[0].trim())).toEqual([
      'PORT',
      'BOOTSTRAP_ROOT_KEY',
      'TRUSTED_PROXIES',
      'MIGRATIONS_RUN',
    ]);
  });

  it('should refuse TRUSTED_PROXIES=10.0.0.0/99 with a message, not proxy-addr’s error', () => {
    expect(refusal({ TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/99' })).toContain(
      'TRUSTED_PROXIES has "10.0.0.0/99", which is not an IPv4 or IPv6 address or CIDR',
    );
    expect(loadConfig({ TRUSTED_PROXIES: '127.0.0.1, ::1, 10.0.0.0/8, fd00::/8, loopback' }).TRUSTED_PROXIES).toContain(
      'loopback',
    );
  });

  it('should refuse a BOOTSTRAP_ROOT_KEY that is not a key, or is the example key, without repeating it', () => {
    expect(refusal({ BOOTSTRAP_ROOT_KEY: 'hello' })).toContain(
      'BOOTSTRAP_ROOT_KEY is not a well-formed Keyhouse key (make one with `npm run keygen`)',
    );
    const typo = VALID_KEY.slice(0, -1) + (VALID_KEY.endsWith('a') ? 'b' : 'a');
    expect(refusal({ BOOTSTRAP_ROOT_KEY: typo })).not.toContain(typo);
    expect(refusal({ BOOTSTRAP_ROOT_KEY: EXAMPLE_KEYS.live })).toContain(
      'BOOTSTRAP_ROOT_KEY is the documented example key',
    );
    expect(loadConfig({ BOOTSTRAP_ROOT_KEY: VALID_KEY }).BOOTSTRAP_ROOT_KEY).toBe(VALID_KEY);
  });

  it('should take CORS_ORIGINS entries only as origins', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).CORS_ORIGINS).toContain(
      'a.example',
    );
    for (const bad of [
      'https://a.example/',
      'https://a.example/app',
      'a.example',
      '*',
      'ftp://a.example',
      'https://a.example?x=1',
    ])
      expect(refusal({ CORS_ORIGINS: `https://ok.example,${bad}` })).toMatch(
        /^ {2}CORS_ORIGINS: CORS_ORIGINS (has|may not)/m,
      );
  });

  it('should refuse a HOST that is neither an address nor a host name', () => {
    for (const good of ['0.0.0.0', '127.0.0.1', '::', '::1', 'localhost', 'keyhouse.internal'])
      expect(loadConfig({ HOST: good }).HOST).toBe(good);
    for (const bad of ['', 'local host', 'http://localhost', '0.0.0.0:8080', '-x'])
      expect(refusal({ HOST: bad })).toContain('HOST must be an IPv4 or IPv6 address or a host name');
  });

  it('should refuse URLs of another kind, without repeating them (they hold passwords)', () => {
    const message = refusal({
      DATABASE_URL: 'mysql://u:hunter2@db/x',
      REDIS_URL: 'redis://u:p@ss@[bad',
      KEY_HASH_SECRET: SECRET,
    });
    expect(message).toContain('DATABASE_URL must be a postgres:// or postgresql:// URL');
    expect(message).toContain('REDIS_URL must be a redis:// or rediss:// URL');
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('p@ss');
  });

  it('should read KEY_HASH_SECRETS as <id>:<secret> entries, the first one current', () => {
    const env = loadConfig({ KEY_HASH_SECRETS: `2026b:${SECRET}, 2026a:${OLD_SECRET}` });
    expect(keyHashSecrets(env)).toEqual([
      { id: '2026b', secret: SECRET },
      { id: '2026a', secret: OLD_SECRET },
    ]);
    expect(keyHashSecrets(loadConfig({ KEY_HASH_SECRET: SECRET }))).toEqual([{ id: SINGLE_SECRET_ID, secret: SECRET }]);
    expect(SINGLE_SECRET_ID).toBe('initial');
  });

  it.each([
    [`2026b${SECRET}`, 'entry 1 must be <id>:<secret>'],
    [`2026b:${SECRET},2026b:${OLD_SECRET}`, 'entry 2 (2026b) repeats the id of entry 1'],
    [`2026b:${SECRET},2026a:${SECRET}`, 'entry 2 (2026a) repeats the secret of an earlier entry'],
    [`2026b:${SECRET},2026a:short`, 'entry 2 (2026a): the secret must be at least 32 characters'],
    [`2026b:${'ab'.repeat(20)}`, 'entry 1 (2026b): the secret is not random enough'],
    [`bad id:${SECRET}`, 'entry 1 has an id that is not 1 to 32 letters'],
  ])('should refuse KEY_HASH_SECRETS=%s, saying which entry, never the secret', (value, expected) => {
    const message = refusal({ KEY_HASH_SECRETS: value });
    expect(message).toContain(`KEY_HASH_SECRETS ${expected}`);
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain(OLD_SECRET);
  });

  it('should refuse KEY_HASH_SECRET and KEY_HASH_SECRETS together, and ask for one with DATABASE_URL', () => {
    expect(refusal({ KEY_HASH_SECRET: SECRET, KEY_HASH_SECRETS: `a:${OLD_SECRET}` })).toContain(
      'KEY_HASH_SECRET and KEY_HASH_SECRETS are both set',
    );
    expect(refusal({ DATABASE_URL: 'postgres://db/keyhouse' })).toContain(
      'KEY_HASH_SECRET (or KEY_HASH_SECRETS) is required',
    );
    expect(
      loadConfig({ DATABASE_URL: 'postgres://db/keyhouse', KEY_HASH_SECRETS: `a:${SECRET}` }).DATABASE_URL,
    ).toBeDefined();
  });

  /** What the refusals promise for any value: a message naming the variable, one line for it, no stack, no secret. */
  it.each(variables)('should answer any value of %s with a configuration or one line naming it', (name) => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.integer().map(String)),
        (value) => {
          let message: string;
          try {
            loadConfig({ DATA_DIR: 'memory://', [name]: value });
            return;
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidConfiguration);
            message = (err as Error).message;
          }
          const mine = lines(message).filter((l) => l.startsWith(`  ${name}: `));
          expect(mine).toHaveLength(1);
          expect(mine[0]).toContain(name);
          expect(message).not.toMatch(/\n\s+at /);
          if (/SECRET/.test(name) && value.length >= 4) expect(message).not.toContain(value);
        },
      ),
      { numRuns: 150 },
    );
  });

  /** Generated values each variable must refuse, by the kind of value it takes. */
  const bad: Record<string, fc.Arbitrary<string>> = {
    PORT: fc.oneof(
      fc.integer({ min: 65536 }).map(String),
      fc.integer({ max: -1 }).map(String),
      fc.stringMatching(/^[a-z][a-z0-9]*$/),
    ),
    HOST: fc.stringMatching(/^[a-z]+ [a-z]+$|^[a-z]+:\d+$|^-[a-z]+$/),
    NODE_ENV: fc.string({ minLength: 1 }).filter((v) => !['development', 'production', 'test'].includes(v)),
    DATABASE_URL: fc.oneof(
      fc.stringMatching(/^[a-z]{2,8}:\/\/[a-z]+$/).filter((v) => !/^postgres(ql)?:/.test(v)),
      fc.stringMatching(/^[a-z ]+$/).filter((v) => v.trim() !== ''),
    ),
    REDIS_URL: fc.stringMatching(/^[a-z]{2,8}:\/\/[a-z]+$/).filter((v) => !/^rediss?:/.test(v)),
    DATA_DIR: fc.constant(''),
    KEY_HASH_SECRET: fc.string({ minLength: 1, maxLength: 31 }),
    KEY_HASH_SECRETS: fc.oneof(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z]{1,8}:[a-z]{1,31}$/)),
    BOOTSTRAP_ROOT_KEY: fc.string({ minLength: 1, maxLength: 200 }).filter((v) => v.trim() !== ''),
    LOG_LEVEL: fc
      .string({ minLength: 1 })
      .filter((v) => !['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(v)),
    TRUSTED_PROXIES: fc.oneof(
      fc.integer({ min: 33, max: 999 }).map((n) => `10.0.0.0/${n}`),
      fc.stringMatching(/^[a-z]{2,10}$/).filter((v) => !['loopback', 'linklocal', 'uniquelocal'].includes(v)),
      fc.tuple(fc.integer({ min: 256, max: 999 }), fc.nat(255)).map(([a, b]) => `${a}.${b}.0.1`),
    ),
    MIGRATIONS_RUN: fc.string({ minLength: 1 }).filter((v) => !['true', 'false', '1', '0'].includes(v)),
    DOCS_ENABLED: fc.string({ minLength: 1 }).filter((v) => !['true', 'false', '1', '0'].includes(v)),
    MANAGEMENT_HOST: fc.stringMatching(/^[a-z]+ [a-z]+$|^[a-z]+:\d+$|^-[a-z]+$/),
    KEYHOUSE_COMMIT: fc.string({ minLength: 101, maxLength: 300 }),
    CORS_ORIGINS: fc.oneof(
      fc.webUrl({ withQueryParameters: true }).filter((u) => new URL(u).origin !== u),
      fc.domain(),
      fc.constant('*'),
    ),
  };
  const intBounds = (name: string) => {
    const meta = getMetadataStorage()
      .getTargetValidationMetadatas(AppConfig, '', true, false)
      .filter((m) => m.propertyName === name);
    const bound = (kind: string) => meta.find((m) => m.name === kind)?.constraints?.[0] as number | undefined;
    return meta.some((m) => m.name === 'isInt') ? { min: bound('min'), max: bound('max') } : null;
  };
  const generated = (name: string): fc.Arbitrary<string> | undefined => {
    if (bad[name]) return bad[name];
    const bounds = intBounds(name);
    if (!bounds) return undefined;
    return fc.oneof(
      fc.stringMatching(/^[a-z]+$/),
      fc.double({ noInteger: true, noDefaultInfinity: true, noNaN: true }).map(String),
      ...(bounds.min !== undefined ? [fc.integer({ max: bounds.min - 1 }).map(String)] : []),
      ...(bounds.max !== undefined ? [fc.integer({ min: bounds.max + 1 }).map(String)] : []),
    );
  };

  it('should have a generator of bad values for every variable', () => {
    expect(variables.filter((name) => generated(name) === undefined)).toEqual([]);
  });

  it.each(variables.filter((name) => generated(name) !== undefined))(
    'should refuse generated bad values of %s, naming it',
    (name) => {
      fc.assert(
        fc.property(generated(name)!, (value) => {
          const message = refusal({ [name]: value });
          expect(lines(message)).toHaveLength(1);
          expect(lines(message)[0]).toMatch(new RegExp(`^  ${name}: ${name} `));
          expect(message).not.toMatch(/\n\s+at /);
        }),
        { numRuns: 150 },
      );
    },
  );
});

describe(configWarnings.name, () => {
  it.each([
    ['PORTT', 'PORT'],
    ['REDIS_ULR', 'REDIS_URL'],
    ['RDEIS_URL', 'REDIS_URL'],
    ['DATBASE_URL', 'DATABASE_URL'],
    ['KEY_HASH_SECRET_', 'KEY_HASH_SECRET'],
    ['KEYHOUSE_PORT', 'PORT'],
    ['KEYHOUSE_DATABASE_URL', 'DATABASE_URL'],
    ['cors_origins', 'CORS_ORIGINS'],
  ])('should warn about %s, naming %s', (given, known) => {
    expect(configWarnings({ [given]: '1' })).toEqual([
      `${given} is not a Keyhouse variable and is ignored: did you mean ${known}?`,
    ]);
  });

  it('should not warn about the variables it knows, nor the usual ones of a shell, nor ones further away', () => {
    const env = Object.fromEntries(
      [
        ...knownVariables(),
        'HOME',
        'PATH',
        'PWD',
        'USER',
        'SHELL',
        'HOSTNAME',
        'NODE_OPTIONS',
        'PORTS_2',
        'REDIS_HOST',
        'LANG',
      ].map((n) => [n, 'x']),
    );
    expect(configWarnings(env)).toEqual([]);
  });

  it('should not stop the start: a misspelt variable is a warning, the rest loads', () => {
    expect(loadConfig({ PORTT: '9000', DATA_DIR: 'memory://' }).PORT).toBe(8080);
  });
});

describe(oneEditApart.name, () => {
  it('should hold for one insertion, deletion, substitution or neighbour swap, and not for two', () => {
    const word = fc.stringMatching(/^[A-Z_]{2,20}$/);
    fc.assert(
      fc.property(word, fc.nat(), fc.constantFrom('A', 'B', '_'), (w, at, c) => {
        const i = at % w.length;
        const edits = [
          w.slice(0, i) + c + w.slice(i),
          w.slice(0, i) + w.slice(i + 1),
          w.slice(0, i) + c + w.slice(i + 1),
        ];
        if (i + 1 < w.length) edits.push(w.slice(0, i) + w[i + 1] + w[i] + w.slice(i + 2));
        for (const e of edits) expect(oneEditApart(w, e)).toBe(e !== w);
      }),
    );
    expect(oneEditApart('PORT', 'PROTT')).toBe(false);
    expect(oneEditApart('REDIS_URL', 'REDIS_ULR')).toBe(true);
  });
});
