import { makeClient, makeKey, makeScope } from './support/factories';
import { TestApp } from './support/test-app';

describe('key lifecycle', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await TestApp.start();
  });
  afterAll(() => app.close());

  it('should issue, rotate and revoke a key', async () => {
    const scope = await makeScope(app);
    const client = await makeClient(app);
    const issued = await makeKey(app, client.id, { scopes: [scope.name] });
    expect(issued.key).toMatch(/^sk_live_[0-9A-Za-z]{49}$/);
    expect(issued.status).toBe('active');

    const rotated = await app.post(`/v1/keys/${issued.id}/rotate`, { grace_period_seconds: 60 });
    expect(rotated.status).toBe(201);
    expect(rotated.body.replaces).toBe(issued.id);

    const old = await app.get(`/v1/keys/${issued.id}`);
    expect(old.body.status).toBe('expiring');
    expect(old.body).not.toHaveProperty('key');

    const again = await app.post(`/v1/keys/${issued.id}/rotate`, {});
    expect(again.status).toBe(409);

    const revoked = await app.post(`/v1/keys/${rotated.body.id}/revoke`, { reason: 'test' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
  });
});

describe('problem details', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await TestApp.start({ BODY_LIMIT_BYTES: 2048 });
  });
  afterAll(() => app.close());

  it.each([
    ['invalid JSON', { body: '{"name":', headers: { 'content-type': 'application/json' } }, 400],
    ['too large', { body: JSON.stringify({ name: 'x'.repeat(5000) }) }, 413],
    ['wrong media type', { body: 'name=x', headers: { 'content-type': 'text/plain' } }, 415],
  ])('should answer %s with a problem', async (_, call, status) => {
    const res = await app.call('POST', '/v1/clients', call);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status, type: expect.stringMatching(/^urn:keyhouse:problem:/) });
  });
});
