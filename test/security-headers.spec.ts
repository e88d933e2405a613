import { makeClient, makeKey } from './support/factories';
import { TestApp } from './support/test-app';

/**
 * helmet's headers on everything a browser may open (the admin API, its errors, the docs),
 * none on introspection and forward auth, whose callers are services and gateways.
 */
describe('security headers', () => {
  let app: TestApp;

  const HELMET = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'SAMEORIGIN',
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };

  beforeAll(async () => {
    app = await TestApp.start();
  });
  afterAll(() => app.close());

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
