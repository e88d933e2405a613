import { allPages, errorPointers, expectProblem, makeClient, makeKey, makeScope, unique } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

describe('scope catalog', () => {
  const app = useTestApp();

  const catalog = async () => (await allPages<{ name: string }>(app, '/v1/scopes?limit=200')).items.map((s) => s.name);

  describe('POST /v1/scopes', () => {
    it('should add a scope with its description', async () => {
      const name = `${unique('orders')}:read`;
      const res = await app.post('/v1/scopes', { name, description: 'Read orders' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ name, description: 'Read orders', created_at: expect.stringMatching(/Z$/) });
      expect(await catalog()).toContain(name);
    });

    it.each(['svc', 'svc:read', 'svc:items:write', 'svc:*', 'svc-v2:read_all', 'svc:items:*'])(
      'should accept the name pattern of %s',
      async (suffix) => {
        const [head, ...rest] = suffix.split(':');
        const name = [unique(head), ...rest].join(':');
        const res = await app.post('/v1/scopes', { name });
        expect(res.status).toBe(201);
        expect(res.body.description).toBe('');
      },
    );

    it.each([
      ['upper case', 'Orders:read'],
      ['a trailing colon', 'orders:'],
      ['an empty segment', 'orders::read'],
      ['a bare wildcard', '*'],
      ['a wildcard in the middle', 'orders:*:read'],
      ['a space', 'orders read'],
      ['a leading digit', '1orders:read'],
      ['129 characters', `o${':x'.repeat(64)}`],
      ['an empty name', ''],
    ])('should refuse a name with %s', async (_, name) => {
      const res = await app.post('/v1/scopes', { name });
      expectProblem(res, 400, '/v1/scopes');
      expect(errorPointers(res)).toEqual(['#/name']);
    });

    it.each(['admin:things', 'admin:*', 'admin:keys:read'])(
      'should refuse %s: the admin: namespace is reserved',
      async (name) => {
        const res = await app.post('/v1/scopes', { name, description: 'sneaky' });
        expectProblem(res, 400, '/v1/scopes');
        expect(errorPointers(res)).toEqual(['#/name']);
      },
    );

    it('should answer 409 for a scope already in the catalog, and keep the first description', async () => {
      const name = `${unique('dup')}:read`;
      await app.post('/v1/scopes', { name, description: 'first' });
      const again = await app.post('/v1/scopes', { name, description: 'second' });
      expectProblem(again, 409, '/v1/scopes');
      const listed = (await allPages(app, '/v1/scopes?limit=200')).items.find((s) => s.name === name);
      expect(listed.description).toBe('first');
    });

    it('should refuse unknown fields', async () => {
      const res = await app.post('/v1/scopes', {
        name: `${unique('x')}:read`,
        created_at: '2020-01-01T00:00:00Z',
        holders: 3,
      });
      expectProblem(res, 400, '/v1/scopes');
      expect(errorPointers(res)).toEqual(['#/created_at', '#/holders']);
    });
  });

  describe('GET /v1/scopes', () => {
    it('should list the catalog in name order over several pages, built-in admin: scopes included', async () => {
      const prefix = unique('page');
      const mine = ['a', 'b', 'c', 'd', 'e'].map((s) => `${prefix}:${s}`);
      for (const name of [...mine].reverse()) await makeScope(app, name);

      const { items, pages } = await allPages<{ name: string }>(app, '/v1/scopes?limit=2');

      const names = items.map((s) => s.name);
      expect(pages).toBeGreaterThanOrEqual(3);
      expect(new Set(names).size).toBe(names.length);
      expect(names.filter((n) => n.startsWith(`${prefix}:`))).toEqual(mine);
      expect(names).toEqual(
        expect.arrayContaining([
          'admin:*',
          'admin:keys:read',
          'admin:keys:write',
          'admin:introspect',
          'admin:audit:read',
        ]),
      );
    });
  });

  describe('DELETE /v1/scopes/{name}', () => {
    it('should remove a scope no key holds', async () => {
      const { name } = await makeScope(app);
      const res = await app.delete(`/v1/scopes/${name}`);
      expect(res.status).toBe(204);
      expect(res.raw).toBe('');
      expect(await catalog()).not.toContain(name);
      // Gone means gone: a key can no longer be issued with it.
      const client = await makeClient(app);
      const issue = await app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'k', scopes: [name] });
      expectProblem(issue, 400);
      expect(errorPointers(issue)).toEqual(['#/scopes/0']);
    });

    it('should answer 409 while any key holds the scope, a revoked one included', async () => {
      const { name } = await makeScope(app);
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { scopes: [name] });

      const refused = await app.delete(`/v1/scopes/${name}`);
      expectProblem(refused, 409, `/v1/scopes/${name}`);
      expect(refused.body.holders).toBe(1);
      expect(await catalog()).toContain(name);
      expect((await app.get(`/v1/keys/${key.id}`)).body.scopes).toEqual([name]);

      // A revoked key still names the scope in its record, so it still holds it.
      await app.post(`/v1/keys/${key.id}/revoke`, { reason: 'retiring the scope' });
      expectProblem(await app.delete(`/v1/scopes/${name}`), 409);

      // A key that dropped the scope does not count.
      const other = await makeKey(app, client.id, { scopes: [name] });
      expect((await app.delete(`/v1/scopes/${name}`)).body.holders).toBe(2);
      await app.patch(`/v1/keys/${other.id}`, { scopes: [] });
      expect((await app.delete(`/v1/scopes/${name}`)).body.holders).toBe(1);
    });

    it('should delete a scope once its last key dropped it', async () => {
      const { name } = await makeScope(app);
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { scopes: [name] });
      expect((await app.patch(`/v1/keys/${key.id}`, { scopes: [] })).body.scopes).toEqual([]);
      expect((await app.delete(`/v1/scopes/${name}`)).status).toBe(204);
    });

    it('should answer 404 for a scope not in the catalog, also the second time', async () => {
      const { name } = await makeScope(app);
      expect((await app.delete(`/v1/scopes/${name}`)).status).toBe(204);
      expectProblem(await app.delete(`/v1/scopes/${name}`), 404, `/v1/scopes/${name}`);
      expectProblem(await app.delete('/v1/scopes/never:heard-of-it'), 404, '/v1/scopes/never:heard-of-it');
    });

    it('should refuse to delete a built-in admin: scope', async () => {
      expectProblem(await app.delete('/v1/scopes/admin:keys:read'), 409, '/v1/scopes/admin:keys:read');
      expect(await catalog()).toContain('admin:keys:read');
    });
  });
});
