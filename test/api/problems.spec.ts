import { ClientsService } from '../../src/clients/clients.service';
import { errorPointers, expectProblem, makeClient, makeKey, makeScope } from '../support/factories';
import { Reply } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

const NOWHERE = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';

describe('problem details', () => {
  let client: { id: string };
  let key: { id: string };
  const app = useTestApp({ BODY_LIMIT_BYTES: 2048 });
  beforeAll(async () => {
    client = await makeClient(app);
    key = await makeKey(app, client.id);
  });

  describe('unknown routes', () => {
    it.each([
      ['GET', '/v1/nope'],
      ['GET', '/nope'],
      ['POST', '/v1/keys'],
      ['DELETE', `/v1/keys/${NOWHERE}`],
      ['PUT', `/v1/clients/${NOWHERE}`],
      ['GET', '/v2/keys'],
    ])('should answer %s %s with a 404 problem, key or no key', async (method, url) => {
      for (const key of [undefined, null]) {
        const res = await app.call(method, url, {
          key,
          body: method === 'GET' || method === 'DELETE' ? undefined : {},
        });
        expectProblem(res, 404, url);
        expect(res.body.type).toBe('urn:keyhouse:problem:not-found');
      }
    });
  });

  describe('unknown body fields', () => {
    it.each([
      [
        'client create',
        'POST',
        () => '/v1/clients',
        { name: 'n', id: NOWHERE, status: 'active' },
        ['#/id', '#/status'],
      ],
      [
        'client patch',
        'PATCH',
        () => `/v1/clients/${client.id}`,
        { is_system: true, created_at: '2020-01-01T00:00:00Z' },
        ['#/created_at', '#/is_system'],
      ],
      [
        'scope create',
        'POST',
        () => '/v1/scopes',
        { name: 'p:read', created_at: '2020-01-01T00:00:00Z' },
        ['#/created_at'],
      ],
      [
        'key issue',
        'POST',
        () => `/v1/clients/${client.id}/keys`,
        { environment: 'live', name: 'n', digest: 'f'.repeat(64), client_id: NOWHERE },
        ['#/client_id', '#/digest'],
      ],
      [
        'key patch',
        'PATCH',
        () => `/v1/keys/${key.id}`,
        { digest: 'f'.repeat(64), revoked_at: null, client_id: NOWHERE },
        ['#/client_id', '#/digest', '#/revoked_at'],
      ],
      [
        'a nested object of key patch',
        'PATCH',
        () => `/v1/keys/${key.id}`,
        { rate_limit: { limit: 1, window_seconds: 1, burst: 2 } },
        ['#/rate_limit/burst'],
      ],
      [
        'key rotate',
        'POST',
        () => `/v1/keys/${key.id}/rotate`,
        { grace_period_seconds: 0, replaced_by: NOWHERE },
        ['#/replaced_by'],
      ],
      [
        'key revoke',
        'POST',
        () => `/v1/keys/${key.id}/revoke`,
        { reason: 'r', revoked_at: '2020-01-01T00:00:00Z' },
        ['#/revoked_at'],
      ],
    ])('should refuse them on %s with a 400 naming each', async (_, method, url, body, pointers) => {
      const res = await app.call(method, url(), { body });
      expectProblem(res, 400, url());
      expect(res.body.type).toBe('urn:keyhouse:problem:validation-failed');
      expect(errorPointers(res)).toEqual(pointers);
      for (const error of res.body.errors)
        expect(error).toEqual({ pointer: expect.stringMatching(/^#\//), detail: expect.any(String) });
      // Nothing was stored: the key is as it was issued.
      expect((await app.get(`/v1/keys/${key.id}`)).body).toMatchObject({
        status: 'active',
        revoked_at: null,
        client_id: client.id,
      });
    });
  });

  describe('bodies that are not what the API takes', () => {
    it.each([
      ['invalid JSON', { body: '{"name":', headers: { 'content-type': 'application/json' } }, 400],
      ['a JSON array', { body: '[{"name":"n"}]', headers: { 'content-type': 'application/json' } }, 400],
      ['a JSON string', { body: '"name"', headers: { 'content-type': 'application/json' } }, 400],
      ['JSON null', { body: 'null', headers: { 'content-type': 'application/json' } }, 400],
      ['an empty JSON body', { body: '', headers: { 'content-type': 'application/json' } }, 400],
      ['a body over the limit', { body: JSON.stringify({ name: 'x'.repeat(5000) }) }, 413],
      ['plain text', { body: 'name=x', headers: { 'content-type': 'text/plain' } }, 415],
      ['XML', { body: '<client/>', headers: { 'content-type': 'application/xml' } }, 415],
    ])('should answer %s with a problem', async (_, call, status) => {
      const res = await app.call('POST', '/v1/clients', {
        ...call,
        skipOpenApiValidation: 'a body no client should send',
      });
      expectProblem(res, status, '/v1/clients');
    });
  });

  describe('X-Request-Id', () => {
    const requests: [string, () => Promise<Reply>, number][] = [
      ['a 200', () => app.get('/v1/keys?limit=1'), 200],
      ['a 201', () => app.post('/v1/clients', { name: 'rid' }), 201],
      ['a 204', async () => app.delete(`/v1/scopes/${(await makeScope(app)).name}`), 204],
      ['a 400', () => app.post('/v1/clients', {}), 400],
      ['a 401', () => app.get('/v1/keys', { key: null }), 401],
      ['a 404', () => app.get(`/v1/keys/${NOWHERE}`), 404],
      ['a 409', () => app.patch('/v1/clients/00000000-0000-4000-8000-000000000000', { status: 'suspended' }), 409],
      ['an unknown route', () => app.get('/v1/nope'), 404],
      ['the health check', () => app.get('/health', { key: null }), 200],
    ];

    it.each(requests)('should come on %s, and be the problem’s request_id', async (_, send, status) => {
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.headers['x-request-id']).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
      if (status >= 400) expect(res.body.request_id).toBe(res.headers['x-request-id']);
    });

    it('should keep a sane id the caller sent, and replace anything else', async () => {
      const kept = await app.get(`/v1/keys/${NOWHERE}`, { headers: { 'x-request-id': 'trace-42.a:b_c' } });
      expect(kept.headers['x-request-id']).toBe('trace-42.a:b_c');
      expect(kept.body.request_id).toBe('trace-42.a:b_c');
      for (const insane of ['a'.repeat(129), 'has space', 'new\u2028line', '<script>']) {
        const res = await app.get(`/v1/keys/${NOWHERE}`, { headers: { 'x-request-id': insane } });
        expect(res.headers['x-request-id']).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
        expect(res.raw).not.toContain(insane);
      }
    });
  });

  describe('errors nobody expected', () => {
    afterEach(() => jest.restoreAllMocks());

    it('should answer a bare 500 that tells nothing of the error', async () => {
      jest
        .spyOn(app.app.get(ClientsService, { strict: false }), 'list')
        .mockRejectedValue(new Error(`boom at /srv/keyhouse/secret.ts with ${app.rootKey}`));
      const res = await app.get('/v1/clients');
      expectProblem(res, 500, '/v1/clients');
      expect(res.body.type).toBe('urn:keyhouse:problem:internal-error');
      expect(res.raw).not.toMatch(/boom|secret\.ts|sk_live_|stack/);
    });

    it('should answer 503 with Retry-After when the database does not answer', async () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      jest.spyOn(app.app.get(ClientsService, { strict: false }), 'list').mockRejectedValue(refused);
      const res = await app.get('/v1/clients');
      expectProblem(res, 503, '/v1/clients');
      expect(res.headers['retry-after']).toBe('1');
      expect(res.raw).not.toContain('5432');
    });
  });
});
