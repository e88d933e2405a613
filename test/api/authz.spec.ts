import { generateKey } from '../../src/credentials/key-format';
import { SYSTEM_CLIENT_ID } from '../../src/keys/root-key.bootstrap';
import { allPages, expectProblem, makeClientWithKey, makeKey, makeScope } from '../support/factories';
import { Call, Reply } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

const ADMIN_SCOPES = [
  'admin:clients:read',
  'admin:clients:write',
  'admin:keys:read',
  'admin:keys:write',
  'admin:scopes:read',
  'admin:scopes:write',
  'admin:audit:read',
  'admin:introspect',
];
const NOWHERE = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A problem body without what differs on every request. */
const sameness = (res: Reply) => {
  const { request_id: _r, instance: _i, ...rest } = res.body;
  return { status: res.status, contentType: res.headers['content-type'], body: rest };
};

type HeaderStyle = 'bearer' | 'x-api-key';
const headerFor = (style: HeaderStyle, key: string): Record<string, string> =>
  style === 'bearer' ? { authorization: `Bearer ${key}` } : { 'x-api-key': key };

describe('authorization', () => {
  const app = useTestApp();

  /** A call made only with the given headers: no root key added. */
  const as = (headers: Record<string, string>, url = '/v1/keys') => app.get(url, { key: null, headers });

  describe('authentication', () => {
    it.each([
      ['Authorization: Bearer', (k: string) => ({ authorization: `Bearer ${k}` })],
      ['a lower-case bearer scheme', (k: string) => ({ authorization: `bearer ${k}` })],
      ['X-API-Key', (k: string) => ({ 'x-api-key': k })],
    ])('should accept a good key sent as %s', async (_, headers) => {
      expect((await as(headers(app.rootKey))).status).toBe(200);
    });

    it('should give a missing key and every kind of wrong key the identical 401', async () => {
      const missing = await as({});
      expectProblem(missing, 401, '/v1/keys');
      const wrong = {
        'an unknown well-formed key': { authorization: `Bearer ${generateKey('live')}` },
        'an unknown key as X-API-Key': { 'x-api-key': generateKey('test') },
        'a key with a bad checksum': {
          authorization: `Bearer ${app.rootKey.slice(0, -1)}${app.rootKey.endsWith('A') ? 'B' : 'A'}`,
        },
        'a malformed key': { authorization: 'Bearer not-a-key' },
        'an empty bearer': { authorization: 'Bearer ' },
        'another scheme': { authorization: `Digest ${app.rootKey}` },
        'an unknown key in HTTP Basic': {
          authorization: `Basic ${Buffer.from(`x:${generateKey('live')}`).toString('base64')}`,
        },
        'two tokens': { authorization: `Bearer ${app.rootKey} ${app.rootKey}` },
        'an empty X-API-Key': { 'x-api-key': '' },
      };
      for (const [what, headers] of Object.entries(wrong)) {
        const res = await as(headers);
        expect({ what, ...sameness(res) }).toEqual({ what, ...sameness(missing) });
        expect(res.raw).not.toContain(app.rootKey);
      }
    });

    describe.each<HeaderStyle>(['bearer', 'x-api-key'])('keys that are no longer good, sent as %s', (style) => {
      const scope = 'admin:keys:read';
      let missing: Reply;
      beforeAll(async () => {
        missing = await as({});
      });

      it('should refuse a revoked key with the same 401 as no key', async () => {
        const { key } = await makeClientWithKey(app, [scope]);
        expect((await as(headerFor(style, key.key))).status).toBe(200);
        await app.post(`/v1/keys/${key.id}/revoke`, { reason: 'test' });
        expect(sameness(await as(headerFor(style, key.key)))).toEqual(sameness(missing));
      });

      it('should refuse an expired key with the same 401 as no key', async () => {
        const { key } = await makeClientWithKey(app, [scope], { ttl_seconds: 1 });
        expect((await as(headerFor(style, key.key))).status).toBe(200);
        await sleep(1100);
        expect(sameness(await as(headerFor(style, key.key)))).toEqual(sameness(missing));
      });

      it('should refuse the key of a suspended client with the same 401 as no key', async () => {
        const { client, key } = await makeClientWithKey(app, [scope]);
        expect((await as(headerFor(style, key.key))).status).toBe(200);
        await app.patch(`/v1/clients/${client.id}`, { status: 'suspended' });
        expect(sameness(await as(headerFor(style, key.key)))).toEqual(sameness(missing));
      });

      it('should refuse a key used from outside its IP allowlist with the same 401 as no key', async () => {
        const { key: fenced } = await makeClientWithKey(app, [scope], {
          ip_allowlist: ['203.0.113.0/24', '2001:db8::/32'],
        });
        const { key: open } = await makeClientWithKey(app, [scope], { ip_allowlist: ['127.0.0.0/8', '::1'] });
        expect(sameness(await as(headerFor(style, fenced.key)))).toEqual(sameness(missing));
        expect((await as(headerFor(style, open.key))).status).toBe(200);
      });
    });
  });

  describe('scopes', () => {
    it('should answer 403 to a key that lacks the scope, naming the scope it needs', async () => {
      const { client, key } = await makeClientWithKey(app, ['admin:keys:read']);
      const res = await app.post(
        `/v1/clients/${client.id}/keys`,
        { environment: 'live', name: 'more' },
        { key: key.key },
      );
      expectProblem(res, 403, `/v1/clients/${client.id}/keys`);
      expect(res.body.required_scopes).toEqual(['admin:keys:write']);
      expect((await app.get(`/v1/keys?client_id=${client.id}`)).body.data).toHaveLength(1);
    });

    it('should check the scope before the body, so a key without it learns nothing from validation', async () => {
      const { client, key } = await makeClientWithKey(app, ['admin:keys:read']);
      const res = await app.post(`/v1/clients/${client.id}/keys`, { nonsense: true }, { key: key.key });
      expectProblem(res, 403);
      expect(res.body.errors).toBeUndefined();
    });

    it('should let each operation through with its own scope, and only with it (or admin:*)', async () => {
      const doc = (await app.get('/docs-json')).body as {
        paths: Record<string, Record<string, { 'x-required-scopes'?: string[] }>>;
      };
      const holders = new Map<string, string>();
      for (const scope of [...ADMIN_SCOPES, 'admin:*']) {
        holders.set(scope, (await makeKey(app, SYSTEM_CLIENT_ID, { name: `only ${scope}`, scopes: [scope] })).key);
      }
      const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
        Object.entries(item)
          .filter(([, op]) => op['x-required-scopes'])
          .map(([method, op]) => ({ method: method.toUpperCase(), path, scope: op['x-required-scopes']![0] })),
      );
      expect(operations.length).toBeGreaterThanOrEqual(14);

      const outcomes: string[] = [];
      for (const { method, path, scope } of operations) {
        const url = path.replace('{id}', NOWHERE).replace('{name}', 'nothing:here');
        for (const [held, key] of holders) {
          const body = method === 'GET' || method === 'DELETE' ? undefined : {};
          const res = await app.call(method, url, { key, body });
          const allowed = held === scope || held === 'admin:*';
          const refused = res.status === 403 && res.body.required_scopes?.includes(scope);
          if (allowed === refused || res.status === 401) outcomes.push(`${method} ${path} with ${held}: ${res.status}`);
        }
      }
      expect(outcomes).toEqual([]);
    });
  });

  describe('a key of another client than the system client', () => {
    let mine: { id: string };
    let theirs: { id: string };
    let myKey: Awaited<ReturnType<typeof makeKey>>;
    let theirKey: Awaited<ReturnType<typeof makeKey>>;
    let asMine: Call;
    beforeAll(async () => {
      ({ client: mine, key: myKey } = await makeClientWithKey(app, ['admin:*']));
      ({ client: theirs, key: theirKey } = await makeClientWithKey(app, []));
      asMine = { key: myKey.key };
    });

    it('should see only its own client', async () => {
      const listed = (await allPages(app, '/v1/clients?limit=200', asMine)).items.map((c) => c.id);
      expect(listed).toEqual([mine.id]);
      expect((await app.get(`/v1/clients/${mine.id}`, asMine)).status).toBe(200);
    });

    it('should get the same 404 for another client as for one that does not exist', async () => {
      const none = await app.get(`/v1/clients/${NOWHERE}`, asMine);
      expectProblem(none, 404);
      for (const res of [
        await app.get(`/v1/clients/${theirs.id}`, asMine),
        await app.patch(`/v1/clients/${theirs.id}`, { status: 'suspended' }, asMine),
      ]) {
        expect(sameness(res)).toEqual(sameness(none));
      }
      expect((await app.get(`/v1/clients/${theirs.id}`)).body.status).toBe('active');
    });

    it('should see only its own client’s keys, whatever it filters by', async () => {
      const listed = (await allPages(app, '/v1/keys?limit=200', asMine)).items;
      expect(listed.map((k) => k.client_id)).toEqual(listed.map(() => mine.id));
      expect(listed.map((k) => k.id)).toContain(myKey.id);
      expect((await app.get(`/v1/keys?client_id=${theirs.id}`, asMine)).body).toEqual({ data: [], next_cursor: null });
    });

    it('should get the same 404 for another client’s key, whatever it tries, and change nothing', async () => {
      const none = await app.get(`/v1/keys/${NOWHERE}`, asMine);
      expectProblem(none, 404);
      const attempts = [
        await app.get(`/v1/keys/${theirKey.id}`, asMine),
        await app.patch(`/v1/keys/${theirKey.id}`, { name: 'taken over' }, asMine),
        await app.post(`/v1/keys/${theirKey.id}/rotate`, { grace_period_seconds: 0 }, asMine),
        await app.post(`/v1/keys/${theirKey.id}/revoke`, { reason: 'mischief' }, asMine),
      ];
      for (const res of attempts) expect(sameness(res)).toEqual(sameness(none));
      const { key: _secret, ...untouched } = theirKey;
      expect((await app.get(`/v1/keys/${theirKey.id}`)).body).toEqual(untouched);
    });

    it('should get a 404 for issuing a key under another client, and issue none', async () => {
      const res = await app.post(`/v1/clients/${theirs.id}/keys`, { environment: 'live', name: 'planted' }, asMine);
      expect(sameness(res)).toEqual(
        sameness(await app.post(`/v1/clients/${NOWHERE}/keys`, { environment: 'live', name: 'x' }, asMine)),
      );
      expectProblem(res, 404);
      expect((await app.get(`/v1/keys?client_id=${theirs.id}`)).body.data.map((k: { id: string }) => k.id)).toEqual([
        theirKey.id,
      ]);
    });

    it('should manage its own client’s keys', async () => {
      const issued = await app.post(
        `/v1/clients/${mine.id}/keys`,
        { environment: 'live', name: 'own', scopes: ['admin:keys:read'] },
        asMine,
      );
      expect(issued.status).toBe(201);
      expect((await app.get(`/v1/keys/${issued.body.id}`, asMine)).status).toBe(200);
      expect((await app.patch(`/v1/keys/${issued.body.id}`, { name: 'own, renamed' }, asMine)).body.name).toBe(
        'own, renamed',
      );
      const rotated = await app.post(`/v1/keys/${issued.body.id}/rotate`, { grace_period_seconds: 0 }, asMine);
      expect(rotated.status).toBe(201);
      expect((await app.post(`/v1/keys/${rotated.body.id}/revoke`, { reason: 'done' }, asMine)).body.status).toBe(
        'revoked',
      );
    });

    it('should not create clients', async () => {
      const res = await app.post('/v1/clients', { name: 'a client of my own' }, asMine);
      expectProblem(res, 403, '/v1/clients');
    });

    it('should not change the scope catalog', async () => {
      const scope = await makeScope(app);
      expectProblem(await app.post('/v1/scopes', { name: 'mine:read' }, asMine), 403, '/v1/scopes');
      expectProblem(await app.delete(`/v1/scopes/${scope.name}`, asMine), 403);
      const catalog = (await allPages(app, '/v1/scopes?limit=200')).items.map((s) => s.name);
      expect(catalog).toContain(scope.name);
      expect(catalog).not.toContain('mine:read');
    });

    it('should see only its own client’s audit events', async () => {
      const events = (await allPages(app, '/v1/audit-events?limit=200', asMine)).items;
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => e.client_id === mine.id)).toBe(true);
    });
  });

  describe('granting admin: scopes', () => {
    it('should let a key grant only admin: scopes it holds itself', async () => {
      const plain = await makeScope(app);
      const { client, key } = await makeClientWithKey(app, ['admin:keys:write', 'admin:keys:read', plain.name]);
      const issue = (scopes: string[]) =>
        app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'granted', scopes }, { key: key.key });

      expect((await issue(['admin:keys:read', plain.name])).status).toBe(201);
      expectProblem(await issue(['admin:audit:read']), 403);
      expectProblem(await issue(['admin:*']), 403);
      expectProblem(await issue(['admin:keys:read', 'admin:clients:read']), 403);
      const own = (await issue([])).body;
      expectProblem(await app.patch(`/v1/keys/${own.id}`, { scopes: ['admin:audit:read'] }, { key: key.key }), 403);
      expect((await app.get(`/v1/keys/${own.id}`)).body.scopes).toEqual([]);
    });

    it('should let a key holding admin:* grant any admin: scope to its own client but those only root grants', async () => {
      const { client, key } = await makeClientWithKey(app, ['admin:*']);
      const issue = (scopes: string[]) =>
        app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'granted', scopes }, { key: key.key });
      expect((await issue(['admin:clients:read', 'admin:keys:write', 'admin:audit:read'])).status).toBe(201);
      for (const rootOnly of ['admin:*', 'admin:leaks:report']) {
        const res = await issue([rootOnly]);
        expectProblem(res, 403);
        expect(res.body.refused_scopes).toEqual([{ scope: rootOnly, reason: 'root_only' }]);
      }
    });

    it('should not hand out a stronger key by rotating or loosening it', async () => {
      const { client, key: weak } = await makeClientWithKey(app, ['admin:keys:write', 'admin:keys:read']);
      const strong = await makeKey(app, client.id, {
        scopes: ['admin:audit:read', 'admin:keys:read'],
        ip_allowlist: ['203.0.113.0/24'],
      });

      expectProblem(await app.post(`/v1/keys/${strong.id}/rotate`, {}, { key: weak.key }), 403);
      expectProblem(await app.patch(`/v1/keys/${strong.id}`, { ip_allowlist: [] }, { key: weak.key }), 403);
      const { key: _secret, ...untouched } = strong;
      expect((await app.get(`/v1/keys/${strong.id}`)).body).toEqual(untouched);
      // Revoking a stronger key hands nothing out; a client may always kill its own keys.
      expect(
        (await app.post(`/v1/keys/${strong.id}/revoke`, { reason: 'leaked' }, { key: weak.key })).body.status,
      ).toBe('revoked');
    });

    it('should not let a narrow system key rotate a root key into its own hands', async () => {
      const narrow = await makeKey(app, SYSTEM_CLIENT_ID, {
        name: 'keys only',
        scopes: ['admin:keys:write', 'admin:keys:read'],
      });
      const root = await makeKey(app, SYSTEM_CLIENT_ID, { name: 'another root', scopes: ['admin:*'] });
      expectProblem(
        await app.post(`/v1/keys/${root.id}/rotate`, { grace_period_seconds: 0 }, { key: narrow.key }),
        403,
      );
      expect((await app.get(`/v1/keys/${root.id}`)).body.status).toBe('active');
    });
  });
});
