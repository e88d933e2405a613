import { randomInt } from 'node:crypto';
import { generateKey } from '../../src/credentials/key-format';
import { makeClient, makeKey } from '../support/factories';
import { Reply } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

const NOWHERE = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';

/**
 * helmet's headers on everything a browser may open (the admin API, its errors, the docs),
 * none on introspection and forward auth, whose callers are services and gateways.
 */
describe('security headers', () => {
  const HELMET = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'SAMEORIGIN',
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };

  const app = useTestApp({ AUTH_FAILURE_LIMIT: 1, TRUSTED_PROXIES: '127.0.0.1', BODY_LIMIT_BYTES: 2048 });

  it('should send helmet headers with admin API answers', async () => {
    const res = await app.get('/v1/clients');
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject(HELMET);
  });

  it('should send them with errors too', async () => {
    const res = await app.get('/v1/clients', { key: null });
    expect(res.status).toBe(401);
    expect(res.headers).toMatchObject(HELMET);
  });

  const answers: [string, () => Promise<Reply>, number][] = [
    ['an unknown route', () => app.get('/v1/nope'), 404],
    ['a missing resource', () => app.get(`/v1/keys/${NOWHERE}`), 404],
    ['a bad body', () => app.post('/v1/clients', { name: 1 }), 400],
    ['a body over the limit', () => app.post('/v1/clients', { name: 'x'.repeat(4096) }), 413],
    [
      'a body of another type',
      () => app.call('POST', '/v1/clients', { body: 'name', headers: { 'content-type': 'text/plain' } }),
      415,
    ],
    [
      'too many bad keys from one address',
      async () => {
        const ip = `203.0.113.${randomInt(1, 255)}`;
        await app.get('/v1/keys', { key: generateKey('live'), headers: { 'x-forwarded-for': ip } });
        return app.get('/v1/keys', { key: generateKey('live'), headers: { 'x-forwarded-for': ip } });
      },
      429,
    ],
    [
      'Swagger UI',
      () => app.get('/docs', { key: null, skipOpenApiValidation: 'an HTML page, not an API operation' }),
      200,
    ],
    [
      'its assets',
      () => app.get('/docs/swagger-ui.css', { key: null, skipOpenApiValidation: 'a stylesheet, not an API operation' }),
      200,
    ],
    [
      'the OpenAPI document',
      () => app.get('/docs-json', { key: null, skipOpenApiValidation: 'the document itself' }),
      200,
    ],
    ['the health check', () => app.get('/health', { key: null }), 200],
    ['the metrics', () => app.get('/metrics', { key: null, listener: 'management' }), 200],
  ];

  it.each(answers)('should send them with %s', async (_, send, status) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers).toMatchObject(HELMET);
  });

  it('should leave them off introspection and forward auth', async () => {
    const client = await makeClient(app);
    const key = await makeKey(app, client.id);
    const introspect = await app.post('/v1/introspect', { token: key.key });
    const authorize = await app.get('/v1/authorize', { key: key.key });
    for (const res of [introspect, authorize]) {
      expect(res.status).toBeLessThan(300);
      expect(res.headers['x-request-id']).toBeDefined();
      for (const name of Object.keys(HELMET)) expect(res.headers[name]).toBeUndefined();
    }
  });
});

/** CORS is closed unless CORS_ORIGINS names origins, and then open to those alone. */
describe('CORS', () => {
  const ALLOWED = 'https://console.example';
  const preflight = (url: string, origin: string, method = 'PATCH') => ({
    key: null,
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization,content-type',
    },
    skipOpenApiValidation: 'a CORS preflight, answered by the framework',
  });
  const corsHeaders = (res: Reply) => Object.keys(res.headers).filter((name) => name.startsWith('access-control-'));

  describe('by default', () => {
    const app = useTestApp();

    it('should send no Access-Control header on any answer, preflight included', async () => {
      const key = await makeKey(app, (await makeClient(app)).id);
      const answers = [
        await app.get('/v1/clients', { headers: { origin: ALLOWED } }),
        await app.post('/v1/clients', { name: 1 }, { headers: { origin: ALLOWED } }),
        await app.get('/v1/clients', { key: null, headers: { origin: ALLOWED } }),
        await app.get('/v1/nope', { headers: { origin: ALLOWED } }),
        await app.post('/v1/introspect', { token: key.key }, { headers: { origin: ALLOWED } }),
        await app.get('/v1/authorize', { key: key.key, headers: { origin: ALLOWED } }),
        await app.call('OPTIONS', '/v1/clients', preflight('/v1/clients', ALLOWED)),
        await app.call('OPTIONS', `/v1/keys/${key.id}`, preflight(`/v1/keys/${key.id}`, ALLOWED)),
        await app.call('OPTIONS', '/v1/introspect', preflight('/v1/introspect', ALLOWED, 'POST')),
      ];
      for (const res of answers) {
        expect(res.status).not.toBe(500);
        expect(corsHeaders(res)).toEqual([]);
      }
    });
  });

  describe('with CORS_ORIGINS', () => {
    const app = useTestApp({ CORS_ORIGINS: `${ALLOWED}, https://other.example` });

    it('should let a listed origin read answers, and their request id', async () => {
      const res = await app.get('/v1/clients', { headers: { origin: ALLOWED } });
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(String(res.headers['access-control-expose-headers']).toLowerCase()).toContain('x-request-id');
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    });

    it.each(['GET', 'POST', 'PATCH', 'DELETE'])(
      'should allow %s with a key in a preflight from a listed origin',
      async (method) => {
        const res = await app.call('OPTIONS', `/v1/keys/${NOWHERE}`, preflight('', ALLOWED, method));
        expect(res.status).toBe(204);
        expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
        expect(String(res.headers['access-control-allow-methods']).split(/,\s*/)).toContain(method);
        expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toMatch(/authorization/);
      },
    );

    it('should give an origin not listed nothing to read', async () => {
      for (const res of [
        await app.get('/v1/clients', { headers: { origin: 'https://evil.example' } }),
        await app.call('OPTIONS', '/v1/clients', preflight('/v1/clients', 'https://evil.example')),
        await app.call('OPTIONS', '/v1/clients', preflight('/v1/clients', `${ALLOWED}.evil.example`)),
      ]) {
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
      }
    });
  });
});
