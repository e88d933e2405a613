import { connect } from 'node:net';
import { crc32 } from 'node:zlib';
import baseX from 'base-x';
import fc from 'fast-check';
import { problemsWith } from '../support/bad-input';
import { expectProblem, makeClient, makeKey, makeScope } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const base62 = baseX(BASE62);
const RUNS = 100;

/** Characters that look like base62 ones: Cyrillic, Greek, full-width, and the usual confusions. */
const LOOK_ALIKES: Record<string, string[]> = {
  o: ['о', 'ο', '0'],
  O: ['О', 'Ο', '0'],
  a: ['а', 'ɑ'],
  e: ['е'],
  c: ['с'],
  p: ['р'],
  x: ['х'],
  y: ['у'],
  i: ['і', '1', 'l'],
  l: ['1', 'I', 'ⅼ'],
  I: ['l', '1', 'Ι'],
  '0': ['O', 'o', '０'],
  '1': ['l', 'I', '１'],
  s: ['ѕ'],
  k: ['κ'],
  B: ['В', '8'],
  _: ['＿', '-'],
};

/** The key re-signed with a checksum of its own: well formed, never issued. */
function resigned(unsigned: string): string {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(unsigned) >>> 0);
  return unsigned + base62.encode(crc).padStart(6, '0');
}

/**
 * Keys made from a good one by a change a typo, a copy-paste or an attacker could make,
 * each a function of the key (so a counterexample names the change, never the key).
 */
const mutation: fc.Arbitrary<{ kind: string; apply: (key: string) => string }> = fc.oneof(
  fc
    .tuple(fc.nat({ max: 56 }), fc.constantFrom(...BASE62, '_', '-', ' ', '\u0000', 'é', '\u200b', '+', '/'))
    .map(([at, char]) => ({
      kind: `character ${at} changed`,
      apply: (key: string) =>
        key.slice(0, at) + (key[at] === char ? (char === 'A' ? 'B' : 'A') : char) + key.slice(at + 1),
    })),
  fc
    .nat({ max: 56 })
    .map((length) => ({ kind: `truncated to ${length}`, apply: (key: string) => key.slice(0, length) })),
  fc
    .tuple(
      fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s.trim().length > 0),
      fc.boolean(),
    )
    .map(([pad, before]) => ({
      kind: `padded ${before ? 'before' : 'after'}`,
      apply: (key: string) => (before ? pad + key : key + pad),
    })),
  fc.constantFrom(
    {
      kind: 'the other environment',
      apply: (key: string) => (key.startsWith('sk_live_') ? 'sk_test_' : 'sk_live_') + key.slice(8),
    },
    {
      kind: 'the other environment, re-signed',
      apply: (key: string) => resigned((key.startsWith('sk_live_') ? 'sk_test_' : 'sk_live_') + key.slice(8, -6)),
    },
    { kind: 'upper case', apply: (key: string) => key.toUpperCase() },
    { kind: 'lower case', apply: (key: string) => key.toLowerCase() },
    { kind: 'doubled', apply: (key: string) => key + key },
    { kind: 'without its prefix', apply: (key: string) => key.slice(8) },
    { kind: 'prefix only', apply: (key: string) => key.slice(0, 8) },
    {
      kind: 'the body re-signed under another prefix',
      apply: (key: string) => resigned(`pk_live_${key.slice(8, -6)}`),
    },
  ),
  fc.nat({ max: 56 }).map((at) => ({
    kind: `case of character ${at} swapped`,
    apply: (key: string) => {
      const c = key[at];
      const swapped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      return key.slice(0, at) + (swapped === c ? '?' : swapped) + key.slice(at + 1);
    },
  })),
  fc.tuple(fc.nat({ max: 55 }), fc.nat()).map(([from, pick]) => ({
    kind: `a look-alike from character ${from}`,
    apply: (key: string) => {
      for (let at = from; at < key.length; at++) {
        const alikes = LOOK_ALIKES[key[at]];
        if (alikes) return key.slice(0, at) + alikes[pick % alikes.length] + key.slice(at + 1);
      }
      return `${key.slice(0, -1)}о`;
    },
  })),
  fc.integer({ min: 8, max: 55 }).map((at) => ({
    kind: `characters ${at} and ${at + 1} swapped`,
    apply: (key: string) =>
      key[at] === key[at + 1] ? `${key}x` : key.slice(0, at) + key[at + 1] + key[at] + key.slice(at + 2),
  })),
);

describe('keys mutated from good ones', () => {
  let keys: { name: string; key: string }[];

  const app = useTestApp();
  beforeAll(async () => {
    const scope = await makeScope(app);
    const client = await makeClient(app);
    keys = [
      { name: 'the root key', key: app.rootKey },
      { name: 'a live key', key: (await makeKey(app, client.id, { scopes: [scope.name] })).key },
      { name: 'a test key', key: (await makeKey(app, client.id, { environment: 'test' })).key },
    ];
  });

  const pick = fc.nat({ max: 2 });

  it('should never be active on introspection', async () => {
    await fc.assert(
      fc.asyncProperty(pick, mutation, async (which, { apply }) => {
        const { key } = keys[which];
        const mutated = apply(key);
        fc.pre(mutated !== key);
        const res = await app.post('/v1/introspect', { token: mutated });
        expect(res.status).toBe(200);
        expect(res.body.active).toBe(false);
        expect(['malformed', 'not_found']).toContain(res.body.reason);
        expect(
          problemsWith(
            res,
            { method: 'POST', url: '/v1/introspect', headers: {} },
            keys.map((k) => k.key),
          ),
        ).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('should never pass forward auth, nor authenticate an admin call, as a bearer token or an X-API-Key', async () => {
    await fc.assert(
      fc.asyncProperty(pick, mutation, fc.boolean(), async (which, { apply }, asApiKey) => {
        const { key } = keys[which];
        const mutated = apply(key);
        // Header values lose surrounding whitespace in HTTP itself: such a "mutation" is the key.
        fc.pre(mutated.trim() !== key && !/[\r\n]/.test(mutated));
        const headers: Record<string, string> = asApiKey
          ? { 'x-api-key': mutated }
          : { authorization: `Bearer ${mutated}` };
        const authorize = await app.get('/v1/authorize', { key: null, headers });
        expect(authorize.status).toBe(401);
        const admin = await app.get('/v1/clients', { key: null, headers });
        expectProblem(admin, 401);
        const secrets = keys.map((k) => k.key);
        expect(problemsWith(authorize, { method: 'GET', url: '/v1/authorize', headers }, secrets, true)).toEqual([]);
        expect(problemsWith(admin, { method: 'GET', url: '/v1/clients', headers }, secrets)).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('should still take the keys themselves (the mutations above are what made them fail)', async () => {
    for (const { key } of keys) expect((await app.post('/v1/introspect', { token: key })).body.active).toBe(true);
    expect((await app.get('/v1/clients', { key: keys[0].key })).status).toBe(200);
  });
});

/** What only a real HTTP connection shows: the parser's limits and repeated headers. */
describe('headers over a real connection', () => {
  let port: number;
  let issued: string;

  const app = useTestApp();
  beforeAll(async () => {
    issued = (await makeKey(app, (await makeClient(app)).id)).key;
    await app.app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.app.getHttpServer().address() as { port: number }).port;
  });

  /** Sends `head` (and `body`) as they are; answers the status, headers and body. */
  function raw(head: string, body = ''): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    return new Promise((resolve, reject) => {
      // Written, not ended: a half-closed connection may be dropped before a slow answer. Every request says Connection: close.
      const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\n\r\n${body}`));
      const chunks: Buffer[] = [];
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', reject);
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const [top = '', ...rest] = text.split('\r\n\r\n');
        const [statusLine = '', ...lines] = top.split('\r\n');
        const headers = Object.fromEntries(
          lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
        );
        resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
      });
    });
  }

  it.each(['GET /v1/clients', 'POST /v1/introspect', 'GET /v1/authorize'])(
    'should answer a 1 MB header on %s with a 431 problem and the security headers',
    async (route) => {
      const res = await raw(
        `${route} HTTP/1.1\r\nHost: keyhouse\r\nAuthorization: Bearer ${app.rootKey}\r\nX-Padding: ${'x'.repeat(1024 * 1024)}\r\nConnection: close`,
      );
      expect(res.status).toBe(431);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(res.body)).toMatchObject({
        type: 'urn:keyhouse:problem:request-header-fields-too-large',
        status: 431,
        request_id: res.headers['x-request-id'],
      });
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.body).not.toContain(app.rootKey.slice(8));
    },
  );

  it('should answer a request line that is no HTTP with a 400 problem', async () => {
    const res = await raw('GET /v1/clients HTTP/9.9\u0000\r\nHost: keyhouse');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
  });

  it('should take two Authorization headers as no key at all, whichever comes first', async () => {
    for (const [first, second] of [
      [app.rootKey, 'sk_live_nope'],
      ['sk_live_nope', app.rootKey],
      [app.rootKey, app.rootKey],
    ]) {
      const res = await raw(
        `GET /v1/clients HTTP/1.1\r\nHost: keyhouse\r\nAuthorization: Bearer ${first}\r\nAuthorization: Bearer ${second}\r\nConnection: close`,
      );
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const authorize = await raw(
        `GET /v1/authorize HTTP/1.1\r\nHost: keyhouse\r\nAuthorization: Bearer ${issued}\r\nAuthorization: Bearer ${first}\r\nConnection: close`,
      );
      expect(authorize.status).toBe(401);
    }
  });

  it('should answer more headers than it reads with a 431, never cut them and miss a second key', async () => {
    // 2,000 short filler headers (about 10 KB, under the 16 KiB size limit) between two Authorization headers.
    const filler = Array.from({ length: 2000 }, () => 'a:').join('\r\n');
    for (const [route, key] of [
      ['GET /v1/authorize', issued],
      ['GET /v1/clients', app.rootKey],
    ] as const) {
      const res = await raw(
        `${route} HTTP/1.1\r\nHost: keyhouse\r\nAuthorization: Bearer ${key}\r\n${filler}\r\nAuthorization: Bearer sk_live_nope\r\nConnection: close`,
      );
      expect(res.status).toBe(431);
      expect(JSON.parse(res.body)).toMatchObject({
        type: 'urn:keyhouse:problem:request-header-fields-too-large',
        status: 431,
      });
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    // Under the count, every header is read: the second key is seen, and two keys are none.
    const fewer = Array.from({ length: 1990 }, () => 'a:').join('\r\n');
    const res = await raw(
      `GET /v1/authorize HTTP/1.1\r\nHost: keyhouse\r\nAuthorization: Bearer ${issued}\r\n${fewer}\r\nAuthorization: Bearer sk_live_nope\r\nConnection: close`,
    );
    expect(res.status).toBe(401);
  });

  it('should take two X-API-Key headers as no key at all', async () => {
    const res = await raw(
      `GET /v1/clients HTTP/1.1\r\nHost: keyhouse\r\nX-API-Key: ${app.rootKey}\r\nX-API-Key: ${app.rootKey}\r\nConnection: close`,
    );
    expect(res.status).toBe(401);
  });

  it('should still take one key, as a control', async () => {
    const res = await raw(
      `GET /v1/clients HTTP/1.1\r\nHost: keyhouse\r\nAuthorization: Bearer ${app.rootKey}\r\nConnection: close`,
    );
    expect(res.status).toBe(200);
  });

  it('should answer a body over BODY_LIMIT_BYTES with a 413 problem on the admin API and introspection', async () => {
    const big = JSON.stringify({ token: issued, name: 'x'.repeat(app.env.BODY_LIMIT_BYTES) });
    for (const route of ['POST /v1/clients', 'POST /v1/introspect']) {
      const res = await raw(
        `${route} HTTP/1.1\r\nHost: keyhouse\r\nAuthorization: Bearer ${app.rootKey}\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\nConnection: close`,
        big,
      );
      expect(res.status).toBe(413);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).not.toContain(issued.slice(8));
    }
  });
});

describe('slow clients over a real connection', () => {
  const HEADERS_TIMEOUT_MS = 300;
  const REQUEST_TIMEOUT_MS = 600;
  let port: number;

  const app = useTestApp({ HTTP_HEADERS_TIMEOUT_MS: HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS: REQUEST_TIMEOUT_MS });
  beforeAll(async () => {
    await app.app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.app.getHttpServer().address() as { port: number }).port;
  });

  /** Sends `start`, then one more byte of `drip` every 50 ms while the connection is open; answers what came back and when it closed. */
  function trickle(start: string, drip: string): Promise<{ answer: string; ms: number }> {
    return new Promise((resolve, reject) => {
      const began = Date.now();
      const chunks: Buffer[] = [];
      let sent = 0;
      const socket = connect(port, '127.0.0.1', () => socket.write(start));
      const timer = setInterval(() => {
        if (socket.writable && sent < drip.length) socket.write(drip[sent++]);
      }, 50);
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', (err) => (clearInterval(timer), reject(err)));
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ answer: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - began });
      });
    });
  }

  // The bound: the timeout, Node's check interval (a second at most) and slack for a loaded machine; without timeouts these never end.
  const BOUND_MS = 5000;

  it('should cut off a client that sends its headers a byte at a time, with a 408', async () => {
    const { answer, ms } = await trickle(
      'GET /v1/clients HTTP/1.1\r\nHost: keyhouse\r\n',
      `X-Slow: ${'x'.repeat(1000)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(BOUND_MS);
  }, 10_000);

  it('should cut off a client that sends its body a byte at a time', async () => {
    const body = JSON.stringify({ token: 'x'.repeat(1000) });
    const head = `POST /v1/introspect HTTP/1.1\r\nHost: keyhouse\r\nAuthorization: Bearer ${app.rootKey}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { ms } = await trickle(head, body);
    expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(BOUND_MS);
  }, 10_000);
});
