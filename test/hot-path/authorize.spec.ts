import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { generateKey } from '../../src/credentials/key-format';
import { makeClient, makeKey, makeScope, unique } from '../support/factories';
import { Reply } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

/**
 * GET /v1/authorize as gateways call it: no Keyhouse credential of their own, the
 * caller's key in the forwarded Authorization or X-API-Key header, the route's needs in
 * X-Required-Scopes (nginx, Envoy) or ?scope= (Traefik's address), the caller's address
 * in X-Forwarded-For. Injected requests come from 127.0.0.1, the trusted proxy here.
 */
describe('GET /v1/authorize', () => {
  let client: { id: string };
  let read: string;
  let write: string;

  const authorize = (headers: Record<string, string>, path = '/v1/authorize', method = 'GET') =>
    app.call(method, path, { key: null, headers });
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  /** Gateways pass nothing but the status and headers on: a body would be a leak waiting to happen. */
  function expectNoBody(res: Reply): void {
    expect(res.raw).toBe('');
  }

  const app = useTestApp({ TRUSTED_PROXIES: '127.0.0.1, ::1' });
  beforeAll(async () => {
    const stem = unique('gw').replace('-', '');
    read = (await makeScope(app, `${stem}:read`)).name;
    write = (await makeScope(app, `${stem}:write`)).name;
    await makeScope(app, `${stem}:*`);
    client = await makeClient(app);
  });

  it('should answer 204 with the key identity and scopes for a good key, as nginx auth_request forwards it', async () => {
    const key = await makeKey(app, client.id, { scopes: [read, write] });
    const res = await authorize({
      ...bearer(key.key),
      'x-required-scopes': read,
      'x-forwarded-for': '198.51.100.7',
      'x-original-uri': '/orders/42',
    });
    expect(res.status).toBe(204);
    expectNoBody(res);
    expect(res.headers).toMatchObject({ 'x-client-id': client.id, 'x-key-id': key.id, 'x-scopes': `${read} ${write}` });
    expect(res.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('should read the key from X-API-Key and the scopes from ?scope=, as Traefik ForwardAuth calls an address', async () => {
    const key = await makeKey(app, client.id, { scopes: [read] });
    const ok = await authorize(
      { 'x-api-key': key.key, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/orders' },
      `/v1/authorize?scope=${encodeURIComponent(read)}`,
    );
    expect(ok.status).toBe(204);
    expect(ok.headers['x-key-id']).toBe(key.id);
    const denied = await authorize({ 'x-api-key': key.key }, `/v1/authorize?scope=${encodeURIComponent(write)}`);
    expect(denied.status).toBe(403);
  });

  it('should take the original method and path after the prefix, and answer 200 when asked to, as Envoy ext_authz needs', async () => {
    const key = await makeKey(app, client.id, { scopes: [write] });
    const headers = { ...bearer(key.key), 'x-required-scopes': write, 'x-keyhouse-success-status': '200' };
    // Envoy's request to the authorization service: the original method, path_prefix + the original path.
    const res = await app.call('POST', '/v1/authorize/orders/42?expand=items', {
      key: null,
      headers,
      skipOpenApiValidation: 'Envoy forwards the original method and path; the GET operation documents it',
    });
    expect(res.status).toBe(200);
    expectNoBody(res);
    expect(res.headers['x-key-id']).toBe(key.id);
    const denied = await app.call('DELETE', '/v1/authorize/orders/42', {
      key: null,
      headers: { ...headers, 'x-required-scopes': read },
      skipOpenApiValidation: 'as above',
    });
    expect(denied.status).toBe(403);
  });

  it('should answer 401 with WWW-Authenticate for a missing, malformed, unknown, revoked or expired key', async () => {
    const revoked = await makeKey(app, client.id);
    await app.post(`/v1/keys/${revoked.id}/revoke`, {});
    const expired = await makeKey(app, client.id);
    await app.post(`/v1/keys/${expired.id}/rotate`, { grace_period_seconds: 0 });

    const missing = await authorize({});
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="keyhouse"');
    expectNoBody(missing);
    for (const token of ['sk_live_nonsense', generateKey('live'), revoked.key, expired.key]) {
      const res = await authorize(bearer(token));
      expect({ token, status: res.status }).toEqual({ token, status: 401 });
      expect(res.headers['www-authenticate']).toBe('Bearer realm="keyhouse", error="invalid_token"');
      expect(res.headers['x-key-id']).toBeUndefined();
      expectNoBody(res);
    }
  });

  it('should answer 401 for a key of a suspended client', async () => {
    const own = await makeClient(app);
    const key = await makeKey(app, own.id);
    expect((await authorize(bearer(key.key))).status).toBe(204);
    await app.patch(`/v1/clients/${own.id}`, { status: 'suspended' });
    expect((await authorize(bearer(key.key))).status).toBe(401);
  });

  it('should answer 403 for a missing scope, with wildcards of the key counted', async () => {
    const narrow = await makeKey(app, client.id, { scopes: [read] });
    const res = await authorize({ ...bearer(narrow.key), 'x-required-scopes': `${read} ${write}` });
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="keyhouse", error="insufficient_scope"');
    expectNoBody(res);
    const wide = await makeKey(app, client.id, { scopes: [`${read.split(':')[0]}:*`] });
    expect((await authorize({ ...bearer(wide.key), 'x-required-scopes': `${read}, ${write}` })).status).toBe(204);
  });

  it('should answer 403 for the wrong environment, from X-Required-Environment or ?environment=', async () => {
    const key = await makeKey(app, client.id, { environment: 'test' });
    expect((await authorize({ ...bearer(key.key), 'x-required-environment': 'test' })).status).toBe(204);
    expect((await authorize({ ...bearer(key.key), 'x-required-environment': 'live' })).status).toBe(403);
    expect((await authorize(bearer(key.key), '/v1/authorize?environment=live')).status).toBe(403);
  });

  it('should keep a requirement a gateway appends after a thousand parameters of the caller', async () => {
    const key = await makeKey(app, client.id, { environment: 'test' });
    const padding = Array.from({ length: 1000 }, (_, i) => `p${i}=x`).join('&');
    expect((await authorize(bearer(key.key), `/v1/authorize?${padding}`)).status).toBe(204);
    expect((await authorize(bearer(key.key), `/v1/authorize?${padding}&environment=live`)).status).toBe(403);
  });

  it('should check the allowlist against X-Forwarded-For from a trusted proxy, IPv4 and IPv6', async () => {
    const key = await makeKey(app, client.id, { ip_allowlist: ['2001:db8::/32', '203.0.113.0/24'] });
    expect((await authorize({ ...bearer(key.key), 'x-forwarded-for': '2001:db8::42' })).status).toBe(204);
    expect((await authorize({ ...bearer(key.key), 'x-forwarded-for': '203.0.113.9' })).status).toBe(204);
    // The address nearest the trusted proxy counts, not one the caller wrote further left.
    expect((await authorize({ ...bearer(key.key), 'x-forwarded-for': '203.0.113.9, 198.51.100.1' })).status).toBe(403);
    expect((await authorize({ ...bearer(key.key), 'x-forwarded-for': '2001:db9::1' })).status).toBe(403);
    // Without X-Forwarded-For, the peer itself (127.0.0.1) is not on the list.
    expect((await authorize(bearer(key.key))).status).toBe(403);
  });

  it('should answer 403 once the usage limit is spent', async () => {
    const key = await makeKey(app, client.id, { usage_limit: 1 });
    expect((await authorize(bearer(key.key))).status).toBe(204);
    expect((await authorize(bearer(key.key))).status).toBe(403);
  });

  it('should answer 429 with Retry-After and the rate-limit headers over the limit', async () => {
    const key = await makeKey(app, client.id, { rate_limit: { limit: 2, window_seconds: 30 } });
    const first = await authorize(bearer(key.key));
    expect(first.status).toBe(204);
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1' });
    expect(Number(first.headers['x-ratelimit-reset'])).toBeGreaterThanOrEqual(30);
    expect(Number(first.headers['x-ratelimit-reset'])).toBeLessThanOrEqual(33);
    expect((await authorize(bearer(key.key))).headers['x-ratelimit-remaining']).toBe('0');
    const limited = await authorize(bearer(key.key));
    expect(limited.status).toBe(429);
    expectNoBody(limited);
    expect(limited.headers).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0' });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(33);
    expect(limited.headers['x-client-id']).toBeUndefined();
  });

  it('should answer HEAD like GET', async () => {
    const key = await makeKey(app, client.id);
    expect((await authorize(bearer(key.key), '/v1/authorize', 'HEAD')).status).toBe(204);
    expect((await authorize({}, '/v1/authorize', 'HEAD')).status).toBe(401);
  });
});

/**
 * Requirements come from the gateway's configuration (a header it sets, a query string in
 * the address it calls) and, with Traefik, also from the caller's own headers, which it
 * forwards. Every requirement given must hold, wherever it came from: a caller can add to
 * what is required, never take from it.
 */
describe('GET /v1/authorize: every requirement given holds', () => {
  let port: number;
  let read: string;
  let write: string;
  const keys: Record<'live' | 'test', { key: string; scopes: string[] }> = {} as never;

  const app = useTestApp({ TRUSTED_PROXIES: '127.0.0.1, ::1' });
  beforeAll(async () => {
    const stem = unique('req').replace('-', '');
    read = (await makeScope(app, `${stem}:read`)).name;
    write = (await makeScope(app, `${stem}:write`)).name;
    const client = await makeClient(app);
    keys.test = { key: (await makeKey(app, client.id, { environment: 'test', scopes: [read] })).key, scopes: [read] };
    keys.live = {
      key: (await makeKey(app, client.id, { environment: 'live', scopes: [read, write] })).key,
      scopes: [read, write],
    };
    await app.app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.app.getHttpServer().address() as { port: number }).port;
  });

  /** Over a real connection: repeated headers as separate header lines, as a gateway forwards them. */
  function send(path: string, headers: Record<string, string | string[]>): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path, headers: { ...headers, connection: 'close' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
  const query = (name: string, values: string[]) => values.map((v) => `${name}=${encodeURIComponent(v)}`);
  const path = (params: string[]) => (params.length > 0 ? `/v1/authorize?${params.join('&')}` : '/v1/authorize');

  it('should refuse a test key asked for live in the query, whatever environment header the caller adds', async () => {
    const auth = { authorization: `Bearer ${keys.test.key}` };
    expect(await send('/v1/authorize?environment=live', auth)).toBe(403);
    expect(await send('/v1/authorize?environment=live', { ...auth, 'x-required-environment': 'test' })).toBe(403);
    expect(await send('/v1/authorize?environment=test&environment=live', auth)).toBe(403);
    expect(await send('/v1/authorize?environment=live&environment=test', auth)).toBe(403);
    expect(await send('/v1/authorize', { ...auth, 'x-required-environment': ['live', 'test'] })).toBe(403);
    expect(await send('/v1/authorize', { ...auth, 'x-required-environment': 'test, live' })).toBe(403);
    // The same requirement given twice is one requirement.
    expect(
      await send('/v1/authorize?environment=test&environment=test', {
        ...auth,
        'x-required-environment': ['test', 'test'],
      }),
    ).toBe(204);
  });

  it('should require every scope asked for, in the header and the query alike', async () => {
    const auth = { authorization: `Bearer ${keys.test.key}` };
    expect(await send(path(query('scope', [write])), { ...auth, 'x-required-scopes': read })).toBe(403);
    expect(await send(path(query('scope', [read, write])), auth)).toBe(403);
    expect(await send('/v1/authorize', { ...auth, 'x-required-scopes': [read, write] })).toBe(403);
    expect(await send(path(query('scope', [read])), { ...auth, 'x-required-scopes': read })).toBe(204);
  });

  it('should answer 204 only when every requirement given holds, for any mix of headers, query and repeats', async () => {
    const environments = fc.array(fc.constantFrom('live', 'test', '', 'prod'), { maxLength: 2 });
    const scopeLists = fc.array(fc.constantFrom(read, write, `${read} ${write}`, `${write},${read}`, ''), {
      maxLength: 2,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<'live' | 'test'>('live', 'test'),
        environments,
        environments,
        scopeLists,
        scopeLists,
        async (which, envHeader, envQuery, scopeHeader, scopeQuery) => {
          const { key, scopes } = keys[which];
          const headers: Record<string, string | string[]> = { authorization: `Bearer ${key}` };
          if (envHeader.length > 0) headers['x-required-environment'] = envHeader;
          if (scopeHeader.length > 0) headers['x-required-scopes'] = scopeHeader;
          const status = await send(path([...query('environment', envQuery), ...query('scope', scopeQuery)]), headers);
          const asked = [...scopeHeader, ...scopeQuery].flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
          const holds =
            [...envHeader, ...envQuery].every((e) => e === '' || e === which) && asked.every((s) => scopes.includes(s));
          expect(status).toBe(holds ? 204 : 403);
        },
      ),
      { numRuns: 80 },
    );
  });
});

/** Forms that name an address of 10.0.0.0/8 to a lenient parser, or none, but are not canonical address text. */
const hostileForwarded = (): fc.Arbitrary<string> => {
  const octet = fc.integer({ min: 0, max: 255 });
  const nonCanonical = fc.oneof(
    fc.tuple(octet, octet).map(([b, c]) => `10.${b * 256 + c}`), // short forms: 10.1, 10.65535
    fc.tuple(octet, octet).map(([b, c]) => `10.${b}.${c}`),
    fc.integer({ min: 0x0a000000, max: 0x0affffff }).map(String), // an integer: 167772161
    fc.tuple(octet, octet, octet).map(([b, c, d]) => `010.${b}.${c}.${d}`), // octal
    fc.tuple(octet, octet, octet).map(([b, c, d]) => `0x0a.${b}.${c}.${d}`), // hex
    fc.tuple(octet, octet, octet).map(([b, c, d]) => `10.${b}.${c}.0${d}`), // a leading zero
    fc.tuple(octet, octet, octet).map(([b, c, d]) => `::10.${b}.${c}.${d}`), // IPv4-compatible IPv6
    fc.tuple(octet, octet, octet).map(([b, c, d]) => `::ffff:010.${b}.${c}.${d}`),
    fc
      .tuple(octet, octet, octet, fc.constantFrom('%eth0', '%25eth0', '%1'))
      .map(([b, c, d, z]) => `::ffff:10.${b}.${c}.${d}${z}`), // zone ids
    fc.tuple(octet, octet, octet).map(([b, c, d]) => `[10.${b}.${c}.${d}]`), // brackets
    fc.tuple(octet, octet, octet, fc.integer({ min: 1, max: 65535 })).map(([b, c, d, p]) => `10.${b}.${c}.${d}:${p}`), // ports
    fc.tuple(octet, octet, octet).map(([b, c, d]) => `[::ffff:10.${b}.${c}.${d}]:443`),
    fc.integer({ min: 65, max: 4000 }).map((n) => `10.0.0.1${'0'.repeat(n)}`), // very long
    fc.stringMatching(/^[\x21-\x2b\x2d-\x7e]{1,300}$/), // garbage, printable, no commas
  );
  // Several hops: what the caller wrote first, the trusted proxy's hop (the hostile one) nearest.
  return fc
    .tuple(fc.array(fc.constantFrom('10.0.0.1', '203.0.113.9', 'junk'), { maxLength: 2 }), nonCanonical)
    .map(([hops, last]) => [...hops, last].join(', '));
};

describe('hostile X-Forwarded-For from a trusted proxy', () => {
  let allowlisted: string;
  let mapped: string;

  const app = useTestApp({ TRUSTED_PROXIES: '127.0.0.1, ::1' });
  beforeAll(async () => {
    const client = await makeClient(app);
    allowlisted = (await makeKey(app, client.id, { ip_allowlist: ['10.0.0.0/8'] })).key;
    mapped = (await makeKey(app, client.id, { ip_allowlist: ['::ffff:192.0.2.0/120'] })).key;
  });

  const forward = (key: string, xff: string) =>
    app.call('GET', '/v1/authorize', {
      key: null,
      headers: { authorization: `Bearer ${key}`, 'x-forwarded-for': xff },
    });

  it('should match canonical addresses, IPv4-mapped IPv6 as IPv4 on both sides', async () => {
    expect((await forward(allowlisted, '10.1.2.3')).status).toBe(204);
    expect((await forward(allowlisted, '::ffff:10.1.2.3')).status).toBe(204);
    expect((await forward(mapped, '192.0.2.7')).status).toBe(204);
    expect((await forward(mapped, '::ffff:192.0.2.7')).status).toBe(204);
    expect((await forward(mapped, '192.0.3.7')).status).toBe(403);
  });

  it('should never let a non-canonical forwarded address match an allowlist, nor answer a 500 anywhere', async () => {
    const root = app.rootKey;
    await fc.assert(
      fc.asyncProperty(hostileForwarded(), async (xff) => {
        expect((await forward(allowlisted, xff)).status).toBe(403);
        // The admin API refuses it, naming the header, and writes nothing with it.
        const read = await app.call('GET', '/v1/scopes', { key: root, headers: { 'x-forwarded-for': xff } });
        expect(read.status).toBe(400);
        expect(read.body.detail).toContain('X-Forwarded-For');
        const write = await app.call('POST', '/v1/clients', {
          key: root,
          body: { name: 'never-stored' },
          headers: { 'x-forwarded-for': xff },
        });
        expect(write.status).toBe(400);
        // Introspection answers; its caller's key has no allowlist, so the address is just none.
        const introspect = await app.call('POST', '/v1/introspect', {
          key: root,
          body: { token: allowlisted, client_ip: '10.0.0.1' },
          headers: { 'x-forwarded-for': xff },
        });
        expect(introspect.status).toBe(200);
      }),
      { numRuns: 60 },
    );
  });
});

describe('GET /v1/authorize behind no trusted proxy', () => {
  const app = useTestApp({ TRUSTED_PROXIES: '' });

  it('should ignore X-Forwarded-For and check the peer address', async () => {
    const client = await makeClient(app);
    const key = await makeKey(app, client.id, { ip_allowlist: ['203.0.113.0/24'] });
    const spoofed = await app.get('/v1/authorize', {
      key: null,
      headers: { authorization: `Bearer ${key.key}`, 'x-forwarded-for': '203.0.113.9' },
    });
    expect(spoofed.status).toBe(403);
    const local = await makeKey(app, client.id, { ip_allowlist: ['127.0.0.0/8', '::1'] });
    expect(
      (
        await app.get('/v1/authorize', {
          key: null,
          headers: { authorization: `Bearer ${local.key}`, 'x-forwarded-for': '203.0.113.9' },
        })
      ).status,
    ).toBe(204);
  });
});
