import { KeyChangeListener } from '../../src/credentials/key-change-listener';
import { keyHint, parseKey } from '../../src/credentials/key-format';
import {
  allPages,
  errorPointers,
  expectProblem,
  makeClient,
  makeClientWithKey,
  makeKey,
  makeScope,
} from '../support/factories';
import { Reply } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The moment `ms` from now, bracketed by the clock before and after the call that set it. */
const around = (before: number, after: number, ms: number) => [before + ms - 1, after + ms + 1] as const;

describe('key lifecycle: rotation, revocation, status', () => {
  const app = useTestApp();

  /** A key that can call the admin API about its own client: the easiest way to see whether it still works. */
  const works = async (key: string, keyId: string) => (await app.get(`/v1/keys/${keyId}`, { key })).status === 200;

  describe('POST /v1/keys/{id}/rotate', () => {
    it('should keep an inherited lifetime within the years the API takes', async () => {
      const client = await makeClient(app);
      const old = await makeKey(app, client.id, { expires_at: '9998-12-31T23:59:59.999Z' });
      await new Promise((resolve) => setTimeout(resolve, 5)); // the successor's lifetime, counted from now, would end after it
      const res = await app.post(`/v1/keys/${old.id}/rotate`, {});
      expect(res.status).toBe(201);
      expect(res.body.expires_at).toBe('9998-12-31T23:59:59.999Z');
      expect((await app.get(`/v1/keys/${res.body.id}`)).body.expires_at).toBe('9998-12-31T23:59:59.999Z');
    });

    it('should issue a successor like the old key and keep the old one good for the default grace period', async () => {
      const scope = await makeScope(app);
      const { client, key: old } = await makeClientWithKey(app, ['admin:keys:read', scope.name], {
        rate_limit: { limit: 10, window_seconds: 60 },
        ip_allowlist: ['127.0.0.1', '::1'],
        usage_limit: 500,
        metadata: { owner: 'checkout' },
        environment: 'test',
      });

      const before = Date.now();
      const res = await app.post(`/v1/keys/${old.id}/rotate`, {});
      const after = Date.now();

      expect(res.status).toBe(201);
      const successor = res.body;
      expect(parseKey(successor.key)?.environment).toBe('test');
      expect(successor.key).not.toBe(old.key);
      expect(successor).toMatchObject({
        client_id: client.id,
        name: old.name,
        environment: 'test',
        status: 'active',
        hint: keyHint(successor.key),
        scopes: old.scopes,
        rate_limit: { limit: 10, window_seconds: 60 },
        ip_allowlist: ['127.0.0.1/32', '::1/128'],
        usage_limit: 500,
        remaining: 500,
        metadata: { owner: 'checkout' },
        expires_at: null,
        replaces: old.id,
        replaced_by: null,
        grace_ends_at: null,
      });
      expect(successor.id).not.toBe(old.id);

      const rotated = (await app.get(`/v1/keys/${old.id}`)).body;
      expect(rotated).toMatchObject({ status: 'expiring', replaced_by: successor.id, revoked_at: null });
      const [low, high] = around(before, after, DAY);
      expect(Date.parse(rotated.grace_ends_at)).toBeGreaterThanOrEqual(low);
      expect(Date.parse(rotated.grace_ends_at)).toBeLessThanOrEqual(high);

      expect(await works(old.key, old.id)).toBe(true);
      expect(await works(successor.key, successor.id)).toBe(true);
    });

    it('should end the grace after the period asked for', async () => {
      const client = await makeClient(app);
      const old = await makeKey(app, client.id);
      const before = Date.now();
      await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 120 });
      const after = Date.now();
      const graceEnds = Date.parse((await app.get(`/v1/keys/${old.id}`)).body.grace_ends_at);
      const [low, high] = around(before, after, 120_000);
      expect(graceEnds).toBeGreaterThanOrEqual(low);
      expect(graceEnds).toBeLessThanOrEqual(high);
    });

    it('should end the old key at once with a grace period of 0', async () => {
      const { key: old } = await makeClientWithKey(app, ['admin:keys:read']);
      const successor = (await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 0 })).body;

      expect((await app.get(`/v1/keys/${old.id}`)).body.status).toBe('expired');
      expectProblem(await app.get(`/v1/keys/${old.id}`, { key: old.key }), 401);
      expect(await works(successor.key, successor.id)).toBe(true);
    });

    it('should never let the grace outlast the old key’s own expiry', async () => {
      const client = await makeClient(app);
      const old = await makeKey(app, client.id, { ttl_seconds: 30 });
      await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 3600 });
      expect((await app.get(`/v1/keys/${old.id}`)).body.grace_ends_at).toBe(old.expires_at);
    });

    it('should give the successor the old key’s lifetime from now, unless told otherwise', async () => {
      const client = await makeClient(app);
      const inherit = await makeKey(app, client.id, { ttl_seconds: 7200 });
      const before = Date.now();
      const inherited = (await app.post(`/v1/keys/${inherit.id}/rotate`, {})).body;
      const [low, high] = around(before, Date.now(), 7200_000);
      expect(Date.parse(inherited.expires_at)).toBeGreaterThanOrEqual(low - 1000);
      expect(Date.parse(inherited.expires_at)).toBeLessThanOrEqual(high);

      const explicit = await makeKey(app, client.id, { ttl_seconds: 7200 });
      const at = '2099-01-01T00:00:00.000Z';
      expect((await app.post(`/v1/keys/${explicit.id}/rotate`, { expires_at: at })).body.expires_at).toBe(at);

      const never = await makeKey(app, client.id, { ttl_seconds: 7200 });
      expect((await app.post(`/v1/keys/${never.id}/rotate`, { expires_at: null })).body.expires_at).toBeNull();

      const byTtl = await makeKey(app, client.id);
      const ttl = (await app.post(`/v1/keys/${byTtl.id}/rotate`, { ttl_seconds: 60 })).body;
      expect(Date.parse(ttl.expires_at) - Date.now()).toBeLessThanOrEqual(60_000);
      expect(Date.parse(ttl.expires_at) - Date.now()).toBeGreaterThan(50_000);
    });

    it.each([
      ['a grace period over 30 days', { grace_period_seconds: 30 * 86400 + 1 }, ['#/grace_period_seconds']],
      ['a negative grace period', { grace_period_seconds: -1 }, ['#/grace_period_seconds']],
      ['a fractional grace period', { grace_period_seconds: 1.5 }, ['#/grace_period_seconds']],
      ['a null grace period', { grace_period_seconds: null }, ['#/grace_period_seconds']],
      ['an expiry in the past', { expires_at: '2001-01-01T00:00:00Z' }, ['#/expires_at']],
      ['both expires_at and ttl_seconds', { expires_at: '2099-01-01T00:00:00Z', ttl_seconds: 60 }, ['#/ttl_seconds']],
      ['fields of the successor it cannot choose', { scopes: [], key: 'sk_live_x' }, ['#/key', '#/scopes']],
    ])('should refuse %s and leave the key unrotated', async (_, body, pointers) => {
      const client = await makeClient(app);
      const old = await makeKey(app, client.id);
      const res = await app.post(`/v1/keys/${old.id}/rotate`, body);
      expectProblem(res, 400, `/v1/keys/${old.id}/rotate`);
      expect(errorPointers(res)).toEqual(pointers);
      expect((await app.get(`/v1/keys/${old.id}`)).body).toMatchObject({ status: 'active', replaced_by: null });
      expect((await allPages(app, `/v1/keys?client_id=${client.id}`)).items).toHaveLength(1);
    });

    it('should answer 409 to a second rotation of the same key, naming its successor, which can be rotated in turn', async () => {
      const client = await makeClient(app);
      const old = await makeKey(app, client.id);
      const successor = (await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 60 })).body;

      const again = await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 60 });
      expectProblem(again, 409, `/v1/keys/${old.id}/rotate`);
      expect(again.body.replaced_by).toBe(successor.id);
      expect((await allPages(app, `/v1/keys?client_id=${client.id}`)).items).toHaveLength(2);

      const third = await app.post(`/v1/keys/${successor.id}/rotate`, {});
      expect(third.status).toBe(201);
      expect(third.body.replaces).toBe(successor.id);
    });

    it('should answer 409 to rotating a revoked key', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id);
      await app.post(`/v1/keys/${key.id}/revoke`, { reason: 'done' });
      const res = await app.post(`/v1/keys/${key.id}/rotate`, {});
      expectProblem(res, 409);
      expect(res.body.key_status).toBe('revoked');
    });

    it('should answer 409 to rotating an expired key', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { ttl_seconds: 1 });
      await sleep(1100);
      const res = await app.post(`/v1/keys/${key.id}/rotate`, {});
      expectProblem(res, 409);
      expect(res.body.key_status).toBe('expired');
      expect((await allPages(app, `/v1/keys?client_id=${client.id}`)).items).toHaveLength(1);
    });

    it('should answer 404 for a key that does not exist', async () => {
      const id = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';
      expectProblem(await app.post(`/v1/keys/${id}/rotate`, {}), 404, `/v1/keys/${id}/rotate`);
    });
  });

  describe('POST /v1/keys/{id}/revoke', () => {
    it('should revoke at once with the reason, and answer the same when asked again', async () => {
      const { key } = await makeClientWithKey(app, ['admin:keys:read']);
      expect(await works(key.key, key.id)).toBe(true);

      const first = await app.post(`/v1/keys/${key.id}/revoke`, { reason: 'compromised' });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({
        id: key.id,
        status: 'revoked',
        revoked_reason: 'compromised',
        revoked_at: expect.stringMatching(/Z$/),
      });
      expect(first.body).not.toHaveProperty('key');
      expectProblem(await app.get(`/v1/keys/${key.id}`, { key: key.key }), 401);

      const second = await app.post(`/v1/keys/${key.id}/revoke`, { reason: 'changed my mind' });
      expect(second.status).toBe(200);
      expect(second.body).toEqual(first.body);
      expect((await app.get(`/v1/keys/${key.id}`)).body).toEqual(first.body);
    });

    it('should record a reason even when none is given', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id);
      const res = await app.post(`/v1/keys/${key.id}/revoke`);
      expect(res.status).toBe(200);
      expect(res.body.revoked_reason).toEqual(expect.any(String));
    });

    it('should revoke a key in its grace period without touching its successor', async () => {
      const { key: old } = await makeClientWithKey(app, ['admin:keys:read']);
      const successor = (await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 3600 })).body;
      expect(await works(old.key, old.id)).toBe(true);

      expect((await app.post(`/v1/keys/${old.id}/revoke`, { reason: 'moved early' })).body.status).toBe('revoked');
      expectProblem(await app.get(`/v1/keys/${old.id}`, { key: old.key }), 401);
      expect(await works(successor.key, successor.id)).toBe(true);
      expect((await app.get(`/v1/keys/${successor.id}`)).body.status).toBe('active');
    });

    it.each([
      ['an empty reason', { reason: '' }],
      ['a null reason', { reason: null }],
      ['a reason of 501 characters', { reason: 'x'.repeat(501) }],
      ['a revocation time of its own', { reason: 'x', revoked_at: '2020-01-01T00:00:00Z' }],
    ])('should refuse %s and leave the key good', async (_, body) => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id);
      expectProblem(await app.post(`/v1/keys/${key.id}/revoke`, body), 400, `/v1/keys/${key.id}/revoke`);
      expect((await app.get(`/v1/keys/${key.id}`)).body.status).toBe('active');
    });

    it('should answer 404 for a key that does not exist', async () => {
      const id = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';
      expectProblem(await app.post(`/v1/keys/${id}/revoke`, { reason: 'x' }), 404, `/v1/keys/${id}/revoke`);
    });
  });

  describe('status', () => {
    it('should turn active into expired when expires_at passes, in get and in the list filters', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { ttl_seconds: 1 });
      expect(key.status).toBe('active');
      await sleep(1100);
      expect((await app.get(`/v1/keys/${key.id}`)).body.status).toBe('expired');
      const ids = async (status: string) =>
        (await allPages(app, `/v1/keys?client_id=${client.id}&status=${status}`)).items.map((k) => k.id);
      expect(await ids('expired')).toEqual([key.id]);
      expect(await ids('active')).toEqual([]);
    });

    it('should turn expiring into expired when the grace ends', async () => {
      const { client, key: old } = await makeClientWithKey(app, ['admin:keys:read']);
      const successor = (await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 1 })).body;
      expect((await app.get(`/v1/keys/${old.id}`)).body.status).toBe('expiring');
      expect(await works(old.key, old.id)).toBe(true);
      await sleep(1100);
      expect((await app.get(`/v1/keys/${old.id}`)).body.status).toBe('expired');
      expectProblem(await app.get(`/v1/keys/${old.id}`, { key: old.key }), 401);
      const expired = (await allPages(app, `/v1/keys?client_id=${client.id}&status=expired`)).items.map((k) => k.id);
      expect(expired).toEqual([old.id]);
      expect((await app.get(`/v1/keys/${successor.id}`)).body.status).toBe('active');
    });

    it('should report revoked over expired for a key that is both', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { ttl_seconds: 1 });
      await app.post(`/v1/keys/${key.id}/revoke`, { reason: 'x' });
      await sleep(1100);
      expect((await app.get(`/v1/keys/${key.id}`)).body.status).toBe('revoked');
    });
  });

  describe('the secret', () => {
    it('should appear only in the 201 of issue and rotate, and no response should carry a digest', async () => {
      const responses: { call: string; res: Reply }[] = [];
      const call = app.call.bind(app);
      const spy = jest.spyOn(app, 'call').mockImplementation(async (method, url, options) => {
        const res = await call(method, url, options);
        responses.push({ call: `${method} ${url}`, res });
        return res;
      });
      try {
        const scope = await makeScope(app);
        const client = await makeClient(app);
        const issued = await makeKey(app, client.id, { scopes: [scope.name, 'admin:keys:read'] });
        const rotated = (await app.post(`/v1/keys/${issued.id}/rotate`, { grace_period_seconds: 60 })).body;
        await app.get(`/v1/keys/${issued.id}`);
        await app.get(`/v1/keys/${rotated.id}`, { key: rotated.key });
        await app.get(`/v1/keys?client_id=${client.id}`);
        await app.patch(`/v1/keys/${rotated.id}`, { name: 'renamed' });
        await app.patch(`/v1/keys/${rotated.id}`, { key: rotated.key });
        await app.post(`/v1/keys/${issued.id}/rotate`, {});
        await app.post(`/v1/keys/${issued.id}/revoke`, { reason: 'done' });
        await app.get(`/v1/clients/${client.id}`, { key: rotated.key });
        await app.get('/v1/audit-events?limit=50');
        await app.get('/v1/keys', { key: `${issued.key}x` });
        await app.get('/v1/keys', { key: issued.key });

        const secrets = [issued.key, rotated.key];
        const carrying = responses
          .filter(({ res }) => secrets.some((s) => res.raw.includes(s)))
          .map(({ call: c, res }) => `${c} ${res.status}`);
        expect(carrying).toEqual([`POST /v1/clients/${client.id}/keys 201`, `POST /v1/keys/${issued.id}/rotate 201`]);
        expect(responses.filter(({ res }) => /digest/i.test(res.raw)).map(({ call: c }) => c)).toEqual([]);
        expect(responses.length).toBeGreaterThanOrEqual(15);
      } finally {
        spy.mockRestore();
      }
    });
  });
});

describe('key changes on the instance that made them', () => {
  const app = useTestApp();
  beforeAll(async () => {
    // Without the database's notifications, only the write path itself can drop what this instance cached.
    await app.app.get(KeyChangeListener, { strict: false }).onModuleDestroy();
  });

  /** A non-root admin key, used once so that this instance has it cached. */
  async function cachedKey() {
    const { client, key } = await makeClientWithKey(app, ['admin:keys:read']);
    expect((await app.get(`/v1/keys/${key.id}`, { key: key.key })).status).toBe(200);
    return { client, key, use: () => app.get(`/v1/keys/${key.id}`, { key: key.key }) };
  }

  it('should refuse a key on the very next request after its revocation', async () => {
    const { key, use } = await cachedKey();
    await app.post(`/v1/keys/${key.id}/revoke`, { reason: 'compromised' });
    expectProblem(await use(), 401);
  });

  it('should refuse a key on the very next request after a rotation without grace', async () => {
    const { key, use } = await cachedKey();
    await app.post(`/v1/keys/${key.id}/rotate`, { grace_period_seconds: 0 });
    expectProblem(await use(), 401);
  });

  it('should apply a scope change on the very next request', async () => {
    const { key, use } = await cachedKey();
    await app.patch(`/v1/keys/${key.id}`, { scopes: [] });
    expectProblem(await use(), 403);
  });

  it('should refuse a suspended client’s key on the very next request, and take it back on reactivation', async () => {
    const { client, use } = await cachedKey();
    await app.patch(`/v1/clients/${client.id}`, { status: 'suspended' });
    expectProblem(await use(), 401);
    await app.patch(`/v1/clients/${client.id}`, { status: 'active' });
    expect((await use()).status).toBe(200);
  });
});
