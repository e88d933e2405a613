import { DataSource } from 'typeorm';
import { keyHint, parseKey } from '../../src/credentials/key-format';
import { allPages, errorPointers, expectProblem, makeClient, makeKey, makeScope, unique } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

const KEY_FIELDS = [
  'client_id',
  'created_at',
  'environment',
  'expires_at',
  'grace_ends_at',
  'hint',
  'id',
  'ip_allowlist',
  'last_used_at',
  'metadata',
  'name',
  'rate_limit',
  'remaining',
  'replaced_by',
  'replaces',
  'revoked_at',
  'revoked_reason',
  'scopes',
  'status',
  'usage_limit',
  'used_since_rotation',
];
const inOneHour = () => new Date(Date.now() + 3600_000).toISOString();

describe('keys', () => {
  let readScope: string;
  let writeScope: string;
  const app = useTestApp();
  beforeAll(async () => {
    const family = unique('orders');
    readScope = (await makeScope(app, `${family}:read`)).name;
    writeScope = (await makeScope(app, `${family}:write`)).name;
  });

  describe('POST /v1/clients/{id}/keys', () => {
    it('should issue a key with every field, and send the secret this once', async () => {
      const client = await makeClient(app);
      const expiresAt = '2099-06-01T12:00:00.000Z';
      const res = await app.post(`/v1/clients/${client.id}/keys`, {
        environment: 'test',
        name: 'checkout staging',
        scopes: [writeScope, readScope],
        expires_at: expiresAt,
        rate_limit: { limit: 100, window_seconds: 60 },
        ip_allowlist: ['203.0.113.9/24', '2001:DB8::1/32', '198.51.100.7'],
        usage_limit: 1000,
        metadata: { owner: 'payments', labels: { tier: 'gold' } },
      });

      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual([...KEY_FIELDS, 'key'].sort());
      expect(parseKey(res.body.key)).toEqual({ environment: 'test', key: res.body.key });
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        key: res.body.key,
        client_id: client.id,
        name: 'checkout staging',
        environment: 'test',
        status: 'active',
        hint: keyHint(res.body.key),
        scopes: [readScope, writeScope].sort(),
        created_at: expect.stringMatching(/Z$/),
        expires_at: expiresAt,
        last_used_at: null,
        revoked_at: null,
        revoked_reason: null,
        replaces: null,
        replaced_by: null,
        grace_ends_at: null,
        used_since_rotation: null,
        rate_limit: { limit: 100, window_seconds: 60 },
        ip_allowlist: ['203.0.113.0/24', '2001:db8::/32', '198.51.100.7/32'],
        usage_limit: 1000,
        remaining: 1000,
        metadata: { owner: 'payments', labels: { tier: 'gold' } },
      });
      expect(res.body.hint).toMatch(/^sk_test_[0-9A-Za-z]{4}\.\.\.[0-9A-Za-z]{4}$/);

      const fetched = await app.get(`/v1/keys/${res.body.id}`);
      const { key: _secret, ...withoutSecret } = res.body;
      expect(fetched.body).toEqual(withoutSecret);
      expect(fetched.raw).not.toContain(res.body.key);
    });

    it('should issue a minimal live key: no scopes, no expiry, no limits', async () => {
      const client = await makeClient(app);
      const res = await app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'minimal' });
      expect(res.status).toBe(201);
      expect(res.body.key.startsWith('sk_live_')).toBe(true);
      expect(res.body).toMatchObject({
        scopes: [],
        expires_at: null,
        rate_limit: null,
        ip_allowlist: [],
        usage_limit: null,
        remaining: null,
        metadata: {},
      });
    });

    it('should turn ttl_seconds into an expiry that far from now', async () => {
      const client = await makeClient(app);
      const before = Date.now();
      const res = await app.post(`/v1/clients/${client.id}/keys`, {
        environment: 'live',
        name: 'ttl',
        ttl_seconds: 3600,
      });
      const expires = Date.parse(res.body.expires_at);
      expect(expires).toBeGreaterThanOrEqual(before + 3600_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000);
    });

    it('should give every key its own secret', async () => {
      const client = await makeClient(app);
      const a = await makeKey(app, client.id);
      const b = await makeKey(app, client.id);
      expect(a.key).not.toBe(b.key);
      expect(a.id).not.toBe(b.id);
    });

    it.each([
      ['no environment', { name: 'k' }, ['#/environment']],
      ['an unknown environment', { environment: 'prod', name: 'k' }, ['#/environment']],
      ['no name', { environment: 'live' }, ['#/name']],
      [
        'both expires_at and ttl_seconds',
        { environment: 'live', name: 'k', expires_at: '2099-01-01T00:00:00Z', ttl_seconds: 60 },
        ['#/ttl_seconds'],
      ],
      [
        'an expires_at in the past',
        { environment: 'live', name: 'k', expires_at: '2020-01-01T00:00:00Z' },
        ['#/expires_at'],
      ],
      [
        'an expires_at without a time zone',
        { environment: 'live', name: 'k', expires_at: '2099-01-01T00:00:00' },
        ['#/expires_at'],
      ],
      ['a bare date as expires_at', { environment: 'live', name: 'k', expires_at: '2099-01-01' }, ['#/expires_at']],
      [
        'an expires_at of 30 February',
        { environment: 'live', name: 'k', expires_at: '2099-02-30T00:00:00Z' },
        ['#/expires_at'],
      ],
      [
        'an expires_at in the year 9999',
        { environment: 'live', name: 'k', expires_at: '9999-12-31T23:59:59Z' },
        ['#/expires_at'],
      ],
      ['a zero ttl_seconds', { environment: 'live', name: 'k', ttl_seconds: 0 }, ['#/ttl_seconds']],
      ['a null ttl_seconds', { environment: 'live', name: 'k', ttl_seconds: null }, ['#/ttl_seconds']],
      [
        'a rate limit without its window',
        { environment: 'live', name: 'k', rate_limit: { limit: 10 } },
        ['#/rate_limit/window_seconds'],
      ],
      [
        'a rate limit with an extra field',
        { environment: 'live', name: 'k', rate_limit: { limit: 10, window_seconds: 1, burst: 5 } },
        ['#/rate_limit/burst'],
      ],
      [
        'a rate limit of zero',
        { environment: 'live', name: 'k', rate_limit: { limit: 0, window_seconds: 60 } },
        ['#/rate_limit/limit'],
      ],
      ['a malformed CIDR', { environment: 'live', name: 'k', ip_allowlist: ['10.0.0.0/33'] }, ['#/ip_allowlist']],
      ['an IPv4 shorthand', { environment: 'live', name: 'k', ip_allowlist: ['10.1'] }, ['#/ip_allowlist']],
      ['a usage limit of zero', { environment: 'live', name: 'k', usage_limit: 0 }, ['#/usage_limit']],
      ['a fractional usage limit', { environment: 'live', name: 'k', usage_limit: 1.5 }, ['#/usage_limit']],
      ['metadata that is a string', { environment: 'live', name: 'k', metadata: 'x' }, ['#/metadata']],
      ['a scope name that is not one', { environment: 'live', name: 'k', scopes: ['Orders Read'] }, ['#/scopes']],
      ['the same scope twice', { environment: 'live', name: 'k', scopes: ['a:b', 'a:b'] }, ['#/scopes']],
      [
        'a secret of its own choosing',
        { environment: 'live', name: 'k', key: 'sk_live_x', digest: 'ab' },
        ['#/digest', '#/key'],
      ],
      [
        'its own status',
        { environment: 'live', name: 'k', status: 'active', revoked_at: null },
        ['#/revoked_at', '#/status'],
      ],
    ])('should refuse %s with a 400 naming the field', async (_, body, pointers) => {
      const client = await makeClient(app);
      const res = await app.post(`/v1/clients/${client.id}/keys`, body);
      expectProblem(res, 400, `/v1/clients/${client.id}/keys`);
      expect(errorPointers(res)).toEqual(pointers);
      expect((await app.get(`/v1/keys?client_id=${client.id}`)).body.data).toEqual([]);
    });

    it('should refuse scopes that are not in the catalog, naming each one', async () => {
      const client = await makeClient(app);
      const res = await app.post(`/v1/clients/${client.id}/keys`, {
        environment: 'live',
        name: 'k',
        scopes: [readScope, 'nowhere:read', 'nowhere:*'],
      });
      expectProblem(res, 400);
      expect(errorPointers(res)).toEqual(['#/scopes/1', '#/scopes/2']);
    });

    it('should issue a catalogued wildcard scope', async () => {
      const wildcard = (await makeScope(app, `${unique('wild')}:*`)).name;
      const client = await makeClient(app);
      expect((await makeKey(app, client.id, { scopes: [wildcard] })).scopes).toEqual([wildcard]);
    });

    it('should answer 404 for a client that does not exist', async () => {
      const id = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';
      expectProblem(
        await app.post(`/v1/clients/${id}/keys`, { environment: 'live', name: 'k' }),
        404,
        `/v1/clients/${id}/keys`,
      );
    });
  });

  describe('GET /v1/keys/{id}', () => {
    it.each(['6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11', 'sk_live_not_an_id'])('should answer 404 for %s', async (id) => {
      expectProblem(await app.get(`/v1/keys/${id}`), 404, `/v1/keys/${id}`);
    });
  });

  describe('GET /v1/keys', () => {
    it('should page through a client’s keys newest first, each once', async () => {
      const client = await makeClient(app);
      const issued = [];
      for (let i = 0; i < 5; i++) issued.push((await makeKey(app, client.id, { name: `k${i}` })).id);

      const { items, pages } = await allPages(app, `/v1/keys?client_id=${client.id}&limit=2`);

      expect(pages).toBe(3);
      expect(items.map((k) => k.id)).toEqual([...issued].reverse());
      expect(items.every((k) => !('key' in k) && !('digest' in k))).toBe(true);
    });

    it('should lose no key that shares its millisecond with the last one of a page', async () => {
      const client = await makeClient(app);
      const ids: string[] = [];
      for (const micros of ['000900', '000500', '000100']) {
        const key = await makeKey(app, client.id);
        await app.app
          .get(DataSource)
          .query('UPDATE api_keys SET created_at = $1 WHERE id = $2', [`2030-01-01T00:00:00.${micros}Z`, key.id]);
        ids.push(key.id);
      }
      const { items } = await allPages(app, `/v1/keys?client_id=${client.id}&limit=1`);
      expect(items.map((k) => k.id).sort()).toEqual([...ids].sort());
    });

    it('should filter by client, environment and status', async () => {
      const client = await makeClient(app);
      const other = await makeClient(app);
      const active = await makeKey(app, client.id, { environment: 'live' });
      const test = await makeKey(app, client.id, { environment: 'test' });
      const rotatedWithGrace = await makeKey(app, client.id);
      const successor = (await app.post(`/v1/keys/${rotatedWithGrace.id}/rotate`, { grace_period_seconds: 600 })).body;
      const rotatedAtOnce = await makeKey(app, client.id);
      const immediateSuccessor = (await app.post(`/v1/keys/${rotatedAtOnce.id}/rotate`, { grace_period_seconds: 0 }))
        .body;
      const revoked = await makeKey(app, client.id);
      await app.post(`/v1/keys/${revoked.id}/revoke`, { reason: 'test' });
      const elsewhere = await makeKey(app, other.id);

      const ids = async (query: string) =>
        (await allPages(app, `/v1/keys?client_id=${client.id}&${query}`)).items.map((k) => k.id).sort();

      expect(await ids('limit=200')).toEqual(
        [
          active.id,
          test.id,
          rotatedWithGrace.id,
          successor.id,
          rotatedAtOnce.id,
          immediateSuccessor.id,
          revoked.id,
        ].sort(),
      );
      expect(await ids('environment=test')).toEqual([test.id]);
      expect(await ids('status=active')).toEqual([active.id, test.id, successor.id, immediateSuccessor.id].sort());
      expect(await ids('status=expiring')).toEqual([rotatedWithGrace.id]);
      expect(await ids('status=expired')).toEqual([rotatedAtOnce.id]);
      expect(await ids('status=revoked')).toEqual([revoked.id]);
      expect(await ids('status=revoked&environment=test')).toEqual([]);
      expect((await allPages(app, `/v1/keys?client_id=${other.id}`)).items.map((k) => k.id)).toEqual([elsewhere.id]);
      // Every key a filter returns says the status it was filtered by.
      for (const status of ['active', 'expiring', 'expired', 'revoked']) {
        const listed = (await allPages(app, `/v1/keys?status=${status}&limit=200`)).items;
        expect(listed.every((k) => k.status === status)).toBe(true);
      }
    });

    it.each([
      ['client_id=nope', ['#/client_id']],
      ['environment=prod', ['#/environment']],
      ['status=deleted', ['#/status']],
      ['limit=1000', ['#/limit']],
      ['digest=abc', ['#/digest']],
    ])('should refuse the query %s', async (query, pointers) => {
      const res = await app.get(`/v1/keys?${query}`);
      expectProblem(res, 400, '/v1/keys');
      expect(errorPointers(res)).toEqual(pointers);
    });
  });

  describe('PATCH /v1/keys/{id}', () => {
    it('should change every writable field, and null should clear the clearable ones', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { scopes: [readScope], metadata: { v: 1 } });
      const expiresAt = '2098-01-01T00:00:00.000Z';

      const changed = await app.patch(`/v1/keys/${key.id}`, {
        name: 'renamed',
        scopes: [writeScope],
        expires_at: expiresAt,
        rate_limit: { limit: 5, window_seconds: 1 },
        ip_allowlist: ['10.1.2.3/16', '::1'],
        usage_limit: 50,
        metadata: { v: 2 },
      });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({
        name: 'renamed',
        scopes: [writeScope],
        expires_at: expiresAt,
        rate_limit: { limit: 5, window_seconds: 1 },
        ip_allowlist: ['10.1.0.0/16', '::1/128'],
        usage_limit: 50,
        remaining: 50,
        metadata: { v: 2 },
        status: 'active',
      });
      expect(changed.body).not.toHaveProperty('key');
      expect((await app.get(`/v1/keys/${key.id}`)).body).toEqual(changed.body);

      const cleared = await app.patch(`/v1/keys/${key.id}`, {
        expires_at: null,
        rate_limit: null,
        usage_limit: null,
        ip_allowlist: [],
        scopes: [],
      });
      expect(cleared.status).toBe(200);
      expect(cleared.body).toMatchObject({
        expires_at: null,
        rate_limit: null,
        usage_limit: null,
        remaining: null,
        ip_allowlist: [],
        scopes: [],
      });
      expect((await app.get(`/v1/keys/${key.id}`)).body).toEqual(cleared.body);
      // Untouched fields stay.
      expect(cleared.body).toMatchObject({
        name: 'renamed',
        metadata: { v: 2 },
        client_id: client.id,
        environment: 'live',
      });
    });

    it('should change only the fields given', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { scopes: [readScope], usage_limit: 10, metadata: { keep: true } });
      const res = await app.patch(`/v1/keys/${key.id}`, { name: 'just the name' });
      const { key: _secret, ...before } = key;
      expect(res.body).toEqual({ ...before, name: 'just the name' });
    });

    it.each([
      [
        'fields no one may write',
        { digest: 'abc', revoked_at: null, client_id: '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11' },
        ['#/client_id', '#/digest', '#/revoked_at'],
      ],
      ['its secret', { key: 'sk_live_x' }, ['#/key']],
      ['its environment', { environment: 'test' }, ['#/environment']],
      [
        'its rotation links',
        { replaced_by: null, replaces: null, grace_ends_at: null },
        ['#/grace_ends_at', '#/replaced_by', '#/replaces'],
      ],
      ['its remaining uses', { remaining: 5 }, ['#/remaining']],
      ['a null name', { name: null }, ['#/name']],
      ['null scopes', { scopes: null }, ['#/scopes']],
      ['a null allowlist', { ip_allowlist: null }, ['#/ip_allowlist']],
      ['null metadata', { metadata: null }, ['#/metadata']],
      ['an expires_at in the past', { expires_at: '2001-01-01T00:00:00Z' }, ['#/expires_at']],
      ['ttl_seconds, which only issue takes', { ttl_seconds: 60 }, ['#/ttl_seconds']],
    ])('should refuse %s with a 400 and change nothing', async (_, body, pointers) => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { scopes: [readScope] });
      const res = await app.patch(`/v1/keys/${key.id}`, body);
      expectProblem(res, 400, `/v1/keys/${key.id}`);
      expect(errorPointers(res)).toEqual(pointers);
      const { key: _secret, ...unchanged } = key;
      expect((await app.get(`/v1/keys/${key.id}`)).body).toEqual(unchanged);
    });

    it('should refuse scopes outside the catalog and keep the old ones', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { scopes: [readScope] });
      const res = await app.patch(`/v1/keys/${key.id}`, { scopes: [writeScope, 'nowhere:read'] });
      expectProblem(res, 400);
      expect(errorPointers(res)).toEqual(['#/scopes/1']);
      expect((await app.get(`/v1/keys/${key.id}`)).body.scopes).toEqual([readScope]);
    });

    it('should extend the expiry of a key that has not expired yet', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { ttl_seconds: 60 });
      const later = inOneHour();
      expect((await app.patch(`/v1/keys/${key.id}`, { expires_at: later })).body.expires_at).toBe(later);
    });

    it('should answer 409 for a revoked key', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id);
      await app.post(`/v1/keys/${key.id}/revoke`, {});
      expectProblem(await app.patch(`/v1/keys/${key.id}`, { name: 'zombie' }), 409, `/v1/keys/${key.id}`);
      expect((await app.get(`/v1/keys/${key.id}`)).body.name).toBe(key.name);
    });

    it('should answer 404 for a key that does not exist', async () => {
      const id = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';
      expectProblem(await app.patch(`/v1/keys/${id}`, { name: 'x' }), 404, `/v1/keys/${id}`);
    });
  });
});
