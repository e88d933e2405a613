import { DataSource } from 'typeorm';
import { SYSTEM_CLIENT_ID } from '../../src/keys/root-key.bootstrap';
import { allPages, errorPointers, expectProblem, makeClient, makeClientWithKey, unique } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

const CLIENT_FIELDS = ['allowed_scopes', 'created_at', 'description', 'id', 'metadata', 'name', 'status', 'updated_at'];

describe('clients', () => {
  const app = useTestApp();

  describe('POST /v1/clients', () => {
    it('should create an active client with every field', async () => {
      const name = unique('checkout');
      const res = await app.post('/v1/clients', {
        name,
        description: 'Checkout service, team Payments',
        metadata: { team: 'payments', tier: 1 },
      });

      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(CLIENT_FIELDS);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name,
        description: 'Checkout service, team Payments',
        status: 'active',
        allowed_scopes: [],
        metadata: { team: 'payments', tier: 1 },
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        updated_at: res.body.created_at,
      });
    });

    it('should default the description to empty and the metadata to an empty object', async () => {
      const res = await app.post('/v1/clients', { name: unique('bare') });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ description: '', metadata: {}, status: 'active' });
    });

    it.each([
      ['a metadata number JSON.parse reads as Infinity', '{"name":"n","metadata":{"n":1e999}}', ['#/metadata']],
      [
        'a metadata key every object inherits',
        '{"name":"n","metadata":{"team":{"toString":"x"}}}',
        ['#/metadata/team/toString'],
      ],
      ['a field every object inherits', '{"name":"n","valueOf":1}', ['#/valueOf']],
      ['a field named twice', '{"name":"n","name":"m"}', []],
    ])('should refuse, not store changed, a body with %s', async (_, raw, pointers) => {
      const res = await app.post('/v1/clients', raw);
      expectProblem(res, 400, '/v1/clients');
      expect(errorPointers(res)).toEqual(pointers);
    });

    it.each([
      ['no name', {}, ['#/name']],
      ['an empty name', { name: '' }, ['#/name']],
      ['a name of 201 characters', { name: 'x'.repeat(201) }, ['#/name']],
      ['a control character in the name', { name: 'a\u0000b' }, ['#/name']],
      ['a null name', { name: null }, ['#/name']],
      ['a null description', { name: 'n', description: null }, ['#/description']],
      ['metadata that is an array', { name: 'n', metadata: ['a'] }, ['#/metadata']],
      ['metadata that is null', { name: 'n', metadata: null }, ['#/metadata']],
      ['metadata over 4 KiB', { name: 'n', metadata: { blob: 'x'.repeat(5000) } }, ['#/metadata']],
      [
        'metadata nested six levels deep',
        { name: 'n', metadata: { a: { b: { c: { d: { e: { f: 1 } } } } } } },
        ['#/metadata'],
      ],
      ['a status on create', { name: 'n', status: 'suspended' }, ['#/status']],
      [
        'fields that are not the caller’s to set',
        { name: 'n', id: '00000000-0000-4000-8000-000000000001', is_system: true },
        ['#/id', '#/is_system'],
      ],
    ])('should refuse %s with a 400 naming the field', async (_, body, pointers) => {
      const res = await app.post('/v1/clients', body);
      expectProblem(res, 400, '/v1/clients');
      expect(errorPointers(res)).toEqual(pointers);
    });
  });

  describe('GET /v1/clients', () => {
    it('should list newest first over several pages, each client once', async () => {
      const mine: string[] = [];
      for (let i = 0; i < 5; i++) mine.push((await makeClient(app, { metadata: { batch: i } })).id);

      const { items, pages } = await allPages(app, '/v1/clients?limit=2');

      const ids = items.map((c) => c.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(pages).toBeGreaterThanOrEqual(3);
      // The five appear in reverse creation order (others may be interleaved in a shared database).
      expect(ids.filter((id) => mine.includes(id))).toEqual([...mine].reverse());
      for (let i = 1; i < items.length; i++) {
        const [a, b] = [items[i - 1], items[i]];
        expect(a.created_at > b.created_at || (a.created_at === b.created_at && a.id > b.id)).toBe(true);
      }
      expect(ids).toContain(SYSTEM_CLIENT_ID);
    });

    it('should lose no client that shares its millisecond with the last one of a page', async () => {
      // Three clients created within one millisecond, older than any other, then paged one at a time.
      const ids: string[] = [];
      for (const micros of ['000300', '000200', '000100']) {
        const client = await makeClient(app);
        await app.patch(`/v1/clients/${client.id}`, { status: 'suspended' });
        await app.app
          .get(DataSource)
          .query('UPDATE clients SET created_at = $1 WHERE id = $2', [`2001-01-01T00:00:00.${micros}Z`, client.id]);
        ids.push(client.id);
      }

      const { items } = await allPages(app, '/v1/clients?status=suspended&limit=1');

      expect(
        items
          .slice(-3)
          .map((c) => c.id)
          .sort(),
      ).toEqual([...ids].sort());
    });

    it('should filter by status', async () => {
      const suspended = await makeClient(app);
      const active = await makeClient(app);
      expect((await app.patch(`/v1/clients/${suspended.id}`, { status: 'suspended' })).status).toBe(200);

      const onlySuspended = (await allPages(app, '/v1/clients?status=suspended&limit=200')).items;
      expect(onlySuspended.every((c) => c.status === 'suspended')).toBe(true);
      expect(onlySuspended.map((c) => c.id)).toContain(suspended.id);
      expect(onlySuspended.map((c) => c.id)).not.toContain(active.id);
    });

    it.each([
      ['limit=0', ['#/limit']],
      ['limit=201', ['#/limit']],
      ['limit=two', ['#/limit']],
      ['status=deleted', ['#/status']],
      ['sort=name', ['#/sort']],
    ])('should refuse the query %s', async (query, pointers) => {
      const res = await app.get(`/v1/clients?${query}`);
      expectProblem(res, 400, '/v1/clients');
      expect(errorPointers(res)).toEqual(pointers);
    });

    it('should refuse a cursor it did not issue', async () => {
      expectProblem(await app.get('/v1/clients?cursor=bm90LWEtY3Vyc29y'), 400, '/v1/clients');
    });
  });

  describe('GET /v1/clients/{id}', () => {
    it('should return the client as created', async () => {
      const created = await app.post('/v1/clients', { name: unique('get'), metadata: { k: 'v' } });
      const res = await app.get(`/v1/clients/${created.body.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(created.body);
    });

    it.each(['6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11', 'not-a-uuid'])('should answer 404 for %s', async (id) => {
      expectProblem(await app.get(`/v1/clients/${id}`), 404, `/v1/clients/${id}`);
    });
  });

  describe('PATCH /v1/clients/{id}', () => {
    it('should change the name, description and metadata, and nothing else', async () => {
      const client = (await app.post('/v1/clients', { name: unique('before'), description: 'old', metadata: { a: 1 } }))
        .body;
      const name = unique('after');

      const res = await app.patch(`/v1/clients/${client.id}`, { name, description: 'new', metadata: { b: 2 } });

      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        ...client,
        name,
        description: 'new',
        metadata: { b: 2 },
        updated_at: expect.any(String),
      });
      expect(res.body.updated_at >= client.updated_at).toBe(true);
      expect((await app.get(`/v1/clients/${client.id}`)).body).toEqual(res.body);
    });

    it('should change only the fields given', async () => {
      const client = (
        await app.post('/v1/clients', { name: unique('partial'), description: 'kept', metadata: { kept: true } })
      ).body;
      const res = await app.patch(`/v1/clients/${client.id}`, { description: 'changed' });
      expect(res.body).toMatchObject({
        name: client.name,
        description: 'changed',
        metadata: { kept: true },
        status: 'active',
      });
    });

    it('should answer an empty patch with the client unchanged', async () => {
      const client = (await app.post('/v1/clients', { name: unique('same') })).body;
      const res = await app.patch(`/v1/clients/${client.id}`, {});
      expect(res.status).toBe(200);
      expect(res.body).toEqual(client);
    });

    it.each([
      ['a null name', { name: null }, ['#/name']],
      ['null metadata', { metadata: null }, ['#/metadata']],
      ['a null status', { status: null }, ['#/status']],
      ['an unknown status', { status: 'deleted' }, ['#/status']],
      [
        'fields that cannot change',
        { id: '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11', created_at: '2020-01-01T00:00:00Z' },
        ['#/created_at', '#/id'],
      ],
    ])('should refuse %s and leave the client as it was', async (_, body, pointers) => {
      const client = await makeClient(app);
      const res = await app.patch(`/v1/clients/${client.id}`, body);
      expectProblem(res, 400, `/v1/clients/${client.id}`);
      expect(errorPointers(res)).toEqual(pointers);
      expect((await app.get(`/v1/clients/${client.id}`)).body).toMatchObject({ name: client.name, status: 'active' });
    });

    it('should answer 404 for a client that does not exist', async () => {
      const id = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';
      expectProblem(await app.patch(`/v1/clients/${id}`, { name: 'x' }), 404, `/v1/clients/${id}`);
    });
  });

  describe('suspension', () => {
    it('should make every key of a suspended client fail the admin guard, and reactivation restore them', async () => {
      const { client, key } = await makeClientWithKey(app, ['admin:keys:read']);
      const second = await app.post(`/v1/clients/${client.id}/keys`, {
        environment: 'test',
        name: 'second',
        scopes: ['admin:clients:read'],
      });
      const asFirst = () => app.get(`/v1/keys/${key.id}`, { key: key.key });
      const asSecond = () => app.get(`/v1/clients/${client.id}`, { key: second.body.key });
      expect((await asFirst()).status).toBe(200);
      expect((await asSecond()).status).toBe(200);

      const suspended = await app.patch(`/v1/clients/${client.id}`, { status: 'suspended' });
      expect(suspended.status).toBe(200);
      expect(suspended.body.status).toBe('suspended');
      expectProblem(await asFirst(), 401);
      expectProblem(await asSecond(), 401);
      // The keys themselves are untouched: suspension is the client's state, not theirs.
      expect((await app.get(`/v1/keys/${key.id}`)).body.status).toBe('active');

      const reactivated = await app.patch(`/v1/clients/${client.id}`, { status: 'active' });
      expect(reactivated.body.status).toBe('active');
      expect((await asFirst()).status).toBe(200);
      expect((await asSecond()).status).toBe(200);
    });

    it('should still issue no key that works under a suspended client', async () => {
      const client = await makeClient(app);
      await app.patch(`/v1/clients/${client.id}`, { status: 'suspended' });
      const issued = await app.post(`/v1/clients/${client.id}/keys`, {
        environment: 'live',
        name: 'while suspended',
        scopes: ['admin:keys:read'],
      });
      expect(issued.status).toBe(201);
      expectProblem(await app.get('/v1/keys', { key: issued.body.key }), 401);
    });

    it('should refuse to suspend the system client, which holds the root keys', async () => {
      const res = await app.patch(`/v1/clients/${SYSTEM_CLIENT_ID}`, { status: 'suspended' });
      expectProblem(res, 409, `/v1/clients/${SYSTEM_CLIENT_ID}`);
      expect((await app.get(`/v1/clients/${SYSTEM_CLIENT_ID}`)).body.status).toBe('active');
      expect((await app.get('/v1/clients?limit=1')).status).toBe(200);
    });
  });
});
