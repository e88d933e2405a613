import { createServer, type RequestListener } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import inject, { type InjectOptions, type Response } from 'light-my-request';
import { HotPathServer } from '../../src/hot-path/hot-path.server';
import { KeyPipeline } from '../../src/hot-path/key-pipeline';
import { generateKey } from '../../src/credentials/key-format';
import { makeClient, makeKey, makeScope, unique } from '../support/factories';
import { TestApp } from '../support/test-app';

/**
 * The hot path's calls are answered on node:http itself (HotPathServer.serve); a call that
 * reaches Nest's instance instead (injected into it, cross-origin with CORS on, a path its
 * router decodes) is handed back to the same code by a thin route. Both ways must give the
 * same answer to every request, and only the first may be taken by the server.
 */
describe(HotPathServer.name, () => {
  let app: TestApp;
  let hotPath: HotPathServer;
  let caller: string;
  let outsider: string;
  let good: string;
  let scope: string;

  beforeAll(async () => {
    app = await TestApp.start({ TRUSTED_PROXIES: '127.0.0.1', BODY_LIMIT_BYTES: 4096 });
    hotPath = app.app.get(HotPathServer, { strict: false });
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
    [
      'introspect, good key',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: good, scope }),
      },
    ],
    [
      'introspect, form body',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), 'content-type': 'application/x-www-form-urlencoded' },
        payload: `token=${good}&token_type_hint=api_key`,
      },
    ],
    [
      'introspect, every field',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), 'content-type': 'Application/JSON; charset=UTF-8' },
        payload: JSON.stringify({
          token: good,
          token_type_hint: 'api_key',
          scope,
          client_ip: '2001:db8::1',
          environment: 'live',
        }),
      },
    ],
    [
      'introspect, unknown key',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: generateKey('live') }),
      },
    ],
    [
      'introspect, malformed key',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: 'sk_live_nope' }),
      },
    ],
    [
      'introspect, scope not held',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: good, scope: 'other:thing' }),
      },
    ],
    [
      'introspect, no caller key',
      { method: 'POST', url: '/v1/introspect', headers: json, payload: JSON.stringify({ token: good }) },
    ],
    [
      'introspect, unknown caller key',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(generateKey('live')), ...json },
        payload: JSON.stringify({ token: good }),
      },
    ],
    [
      'introspect, caller without admin:introspect',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(outsider), ...json },
        payload: JSON.stringify({ token: good }),
      },
    ],
    [
      'introspect, no token',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ scope }),
      },
    ],
    [
      'introspect, token not a string',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: 42 }),
      },
    ],
    [
      'introspect, token twice in a form',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), 'content-type': 'application/x-www-form-urlencoded' },
        payload: `token=${good}&token=${good}`,
      },
    ],
    [
      'introspect, token twice in JSON',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: `{"token":"${generateKey('live')}","token":"${good}"}`,
      },
    ],
    [
      'introspect, scope twice in JSON',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: `{"token":"${good}","scope":"other:thing","scope":"${scope}"}`,
      },
    ],
    [
      'introspect, bad client_ip',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: good, client_ip: '10.1' }),
      },
    ],
    [
      'introspect, bad environment',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: good, environment: 'prod' }),
      },
    ],
    [
      'introspect, text body',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), 'content-type': 'text/plain' },
        payload: good,
      },
    ],
    [
      'introspect, not UTF-8',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]),
      },
    ],
    [
      'introspect, not JSON',
      { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: '{"token":' },
    ],
    [
      'introspect, a JSON array',
      { method: 'POST', url: '/v1/introspect', headers: { ...as(caller), ...json }, payload: JSON.stringify([good]) },
    ],
    [
      'introspect, body over the limit',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: good, scope: 'x'.repeat(5000) }),
      },
    ],
    [
      'introspect, a query string',
      {
        method: 'POST',
        url: '/v1/introspect?debug=1',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: good }),
      },
    ],
    [
      'authorize, good key',
      { method: 'GET', url: '/v1/authorize', headers: { ...as(good), 'x-required-scopes': scope } },
    ],
    [
      'authorize, ?scope= and X-API-Key',
      { method: 'GET', url: `/v1/authorize?scope=${encodeURIComponent(scope)}`, headers: { 'x-api-key': good } },
    ],
    ['authorize, HEAD', { method: 'HEAD', url: '/v1/authorize', headers: as(good) }],
    [
      'authorize, Envoy path and 200',
      { method: 'POST', url: '/v1/authorize/orders/42', headers: { ...as(good), 'x-keyhouse-success-status': '200' } },
    ],
    [
      'authorize, a forwarded body',
      { method: 'POST', url: '/v1/authorize/orders', headers: { ...as(good), ...json }, payload: '{}' },
    ],
    ['authorize, no key', { method: 'GET', url: '/v1/authorize', headers: {} }],
    ['authorize, unknown key', { method: 'GET', url: '/v1/authorize', headers: as(generateKey('live')) }],
    [
      'authorize, scope not held',
      { method: 'GET', url: '/v1/authorize', headers: { ...as(good), 'x-required-scopes': 'other:thing' } },
    ],
    [
      'authorize, environment not held',
      { method: 'GET', url: '/v1/authorize', headers: { ...as(good), 'x-required-environment': 'test' } },
    ],
    [
      'authorize, two environments in one header',
      { method: 'GET', url: '/v1/authorize', headers: { ...as(good), 'x-required-environment': 'live, test' } },
    ],
    [
      'authorize, the same environment twice',
      { method: 'GET', url: '/v1/authorize', headers: { ...as(good), 'x-required-environment': 'live, live' } },
    ],
    [
      'authorize, environment in header and query differ',
      {
        method: 'GET',
        url: '/v1/authorize?environment=test',
        headers: { ...as(good), 'x-required-environment': 'live' },
      },
    ],
    [
      'authorize, environment twice in the query',
      { method: 'GET', url: '/v1/authorize?environment=live&environment=test', headers: as(good) },
    ],
    [
      'authorize, scopes in header and query',
      { method: 'GET', url: '/v1/authorize?scope=other:thing', headers: { ...as(good), 'x-required-scopes': scope } },
    ],
    [
      'introspect, environment twice in a form',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), 'content-type': 'application/x-www-form-urlencoded' },
        payload: `token=${good}&environment=live&environment=test`,
      },
    ],
    [
      'introspect, scope twice in a form',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), 'content-type': 'application/x-www-form-urlencoded' },
        payload: `token=${good}&scope=${scope}&scope=other:thing`,
      },
    ],
    [
      'introspect, environment as a JSON array',
      {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: good, environment: ['test', 'live'] }),
      },
    ],
  ];

  /** What must match: status, body and headers, but for the request's own id and the date. */
  function comparable(res: Response): { status: number; headers: Record<string, unknown>; body: string } {
    const id = res.headers['x-request-id'] as string;
    const { date: _date, 'x-request-id': _id, ...headers } = res.headers;
    return { status: res.statusCode, headers, body: res.body.split(id).join('<request id>') };
  }

  it.each(requests().map(([name]) => name))(
    'should answer "%s" on node:http as when Nest\'s instance hands it over',
    async (name) => {
      const [, request] = requests().find(([n]) => n === name)!;
      const served = jest.spyOn(hotPath, 'serve');
      const listener = app.app.getHttpServer().listeners('request')[0] as RequestListener;
      const own = await inject(listener, request);
      expect(served).toHaveLastReturnedWith(true);
      served.mockRestore();
      const nest = await app.app.inject(request as Parameters<typeof app.app.inject>[0]);
      expect(own.headers['x-request-id']).toEqual(expect.any(String));
      expect(comparable(own)).toEqual(comparable(nest));
    },
  );

  it.each([
    [
      'throws',
      () => {
        throw new Error('unexpected');
      },
    ],
    ['rejects', () => Promise.reject(new Error('unexpected'))],
  ])('should answer a 500 when a decision %s, and leave the drain gate', async (_how, fails) => {
    const pipeline = app.app.get(KeyPipeline, { strict: false });
    const spy = jest.spyOn(pipeline, 'decide').mockImplementation(fails);
    const listener = app.app.getHttpServer().listeners('request')[0] as RequestListener;
    try {
      const introspected = await inject(listener, {
        method: 'POST',
        url: '/v1/introspect',
        headers: { ...as(caller), ...json },
        payload: JSON.stringify({ token: good }),
      });
      expect(introspected.statusCode).toBe(500);
      expect(introspected.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(introspected.json()).toMatchObject({ status: 500, request_id: introspected.headers['x-request-id'] });
      const authorized = await inject(listener, { method: 'GET', url: '/v1/authorize', headers: as(good) });
      expect({ status: authorized.statusCode, body: authorized.body }).toEqual({ status: 500, body: '' });
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
    expect((hotPath as unknown as { gate: { inFlight: number } }).gate.inFlight).toBe(0);
  });

  it('should leave the drain gate when a caller goes away halfway through its body', async () => {
    const gate = (hotPath as unknown as { gate: { inFlight: number } }).gate;
    const server = createServer(app.app.getHttpServer().listeners('request')[0] as RequestListener);
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
      return what();
    };
    try {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      await new Promise((connected) => socket.once('connect', connected));
      const body = JSON.stringify({ token: good, scope });
      socket.write(
        `POST /v1/introspect HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${caller}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      expect(await until(() => gate.inFlight === 1)).toBe(true);
      socket.destroy();
      expect(await until(() => gate.inFlight === 0)).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise((closed) => server.close(closed));
    }
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
