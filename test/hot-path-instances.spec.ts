import type { RequestListener } from 'node:http';
import inject, { type InjectOptions, type Response } from 'light-my-request';
import { HotPathRoutes } from '../src/introspection/hot-path.routes';
import { generateKey } from '../src/credentials/key-format';
import { makeClient, makeKey, makeScope, unique } from './support/factories';
import { TestApp } from './support/test-app';

/**
 * The hot path's routes live on two Fastify instances: their own, which the HTTP server
 * hands their calls to, and Nest's, which answers them when they are injected into Nest
 * or come cross-origin with CORS on. Both must give the same answer to every request.
 */
describe('the hot path on its own Fastify instance', () => {
  let app: TestApp;
  let hotPath: HotPathRoutes;
  let caller: string;
  let outsider: string;
  let good: string;
  let scope: string;

  beforeAll(async () => {
    app = await TestApp.start({ TRUSTED_PROXIES: '127.0.0.1', BODY_LIMIT_BYTES: 4096 });
    hotPath = app.app.get(HotPathRoutes, { strict: false });
    scope = (await makeScope(app, `${unique('hp').replace('-', '')}:read`)).name;
    const client = await makeClient(app);
    caller = (await makeKey(app, client.id, { scopes: ['admin:introspect'] })).key;
    outsider = (await makeKey(app, client.id, { scopes: [scope] })).key;
    good = (await makeKey(app, client.id, { scopes: [scope] })).key;
  });
  afterAll(() => app.close());

  const json = { 'content-type': 'application/json' };
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const requests = (): Array<[string, InjectOptions]> => [
    ['introspect, good key', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: JSON.stringify({ token: good, scope }) }],
    ['introspect, form body', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${good}&token_type_hint=api_key` }],
    ['introspect, unknown key', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: JSON.stringify({ token: generateKey('live') }) }],
    ['introspect, malformed key', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: JSON.stringify({ token: 'sk_live_nope' }) }],
    ['introspect, scope not held', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: JSON.stringify({ token: good, scope: 'other:thing' }) }],
    ['introspect, no caller key', { method: 'POST', url: '/v1/introspect', headers: json, payload: JSON.stringify({ token: good }) }],
    ['introspect, caller without admin:introspect', { method: 'POST', url: '/v1/introspect', headers: { ...as(outsider), ...json }, payload: JSON.stringify({ token: good }) }],
    ['introspect, no token', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: JSON.stringify({ scope }) }],
    ['introspect, bad client_ip', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: JSON.stringify({ token: good, client_ip: '10.1' }) }],
    ['introspect, text body', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), 'content-type': 'text/plain' }, payload: good }],
    ['introspect, not UTF-8', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]) }],
    ['introspect, not JSON', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: '{"token":' }],
    ['introspect, body over the limit', { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: JSON.stringify({ token: good, scope: 'x'.repeat(5000) }) }],
    ['authorize, good key', { method: 'GET', url: '/v1/authorize', headers: { ...as(good), 'x-required-scopes': scope } }],
    ['authorize, ?scope= and X-API-Key', { method: 'GET', url: `/v1/authorize?scope=${encodeURIComponent(scope)}`, headers: { 'x-api-key': good } }],
    ['authorize, HEAD', { method: 'HEAD', url: '/v1/authorize', headers: as(good) }],
    ['authorize, Envoy path and 200', { method: 'POST', url: '/v1/authorize/orders/42', headers: { ...as(good), 'x-keyhouse-success-status': '200' } }],
    ['authorize, no key', { method: 'GET', url: '/v1/authorize', headers: {} }],
    ['authorize, unknown key', { method: 'GET', url: '/v1/authorize', headers: as(generateKey('live')) }],
    ['authorize, scope not held', { method: 'GET', url: '/v1/authorize', headers: { ...as(good), 'x-required-scopes': 'other:thing' } }],
  ];

  /** What must match: status, body and headers, but for the request's own id and the date. */
  function comparable(res: Response): { status: number; headers: Record<string, unknown>; body: string } {
    const id = res.headers['x-request-id'] as string;
    const { date: _date, 'x-request-id': _id, ...headers } = res.headers;
    return { status: res.statusCode, headers, body: res.body.split(id).join('<request id>') };
  }

  it.each(requests().map(([name]) => name))('should answer "%s" on its own instance as on Nest\'s', async (name) => {
    const request = requests().find(([n]) => n === name)![1];
    const served = jest.spyOn(hotPath, 'serve');
    const listener = app.app.getHttpServer().listeners('request')[0] as RequestListener;
    const own = await inject(listener, request);
    expect(served).toHaveLastReturnedWith(true);
    served.mockRestore();
    const nest = await app.app.inject(request as Parameters<typeof app.app.inject>[0]);
    expect(own.headers['x-request-id']).toEqual(expect.any(String));
    expect(comparable(own)).toEqual(comparable(nest));
  });

  it('should leave other requests, and hot-path look-alikes, to Nest', () => {
    const serves = (method: string, url: string, headers: Record<string, string> = {}) =>
      hotPath.serve({ method, url, headers } as never, {} as never);
    expect(serves('GET', '/v1/introspect')).toBe(false);
    expect(serves('POST', '/v1/introspect/')).toBe(false);
    expect(serves('POST', '/v1/keys')).toBe(false);
    expect(serves('GET', '/v1/authorizex')).toBe(false);
    expect(serves('GET', '/v1/authorize/%2e%2e/keys')).toBe(false);
    expect(serves('OPTIONS', '/v1/authorize')).toBe(false);
    expect(serves('GET', `/v1/authorize/${'a'.repeat(300)}`)).toBe(false);
  });
});
