import fc from 'fast-check';
import { Client } from 'pg';
import { SYSTEM_CLIENT_ID } from '../../src/keys/root-key.bootstrap';
import { expectProblem, makeClient, makeKey, makeScope, unique } from '../support/factories';
import { covers, scopeSet } from '../support/scope-oracle';
import { Reply, usingPostgres } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

/**
 * Who may grant what: a key that is not a root key grants (issues, patches, rotates) only
 * scopes its own scopes cover; a client's ceiling (`allowed_scopes`) binds every key of the
 * client, whoever grants; only root sets the ceiling, and narrowing it past keys that still
 * hold wider scopes is refused.
 */
describe('grants', () => {
  const app = useTestApp();

  /** A fresh namespace of catalogued scopes: `ns:read`, `ns:write`, `ns:*`, `ns:items:read`. */
  async function namespace() {
    const ns = unique('ns');
    const names = { read: `${ns}:read`, write: `${ns}:write`, all: `${ns}:*`, items: `${ns}:items:read` };
    for (const name of Object.values(names)) await makeScope(app, name);
    return names;
  }
  const issue = (clientId: string, scopes: string[], key?: string, extra: Record<string, unknown> = {}) =>
    app.post(
      `/v1/clients/${clientId}/keys`,
      { environment: 'live', name: unique('granted'), scopes, ...extra },
      { key },
    );
  const authorize = (key: string, scope: string) =>
    app.get(`/v1/authorize?scope=${encodeURIComponent(scope)}`, { key: null, headers: { 'x-api-key': key } });
  const keysOf = async (clientId: string) =>
    (await app.get(`/v1/keys?client_id=${clientId}&limit=100`)).body.data as Array<{ id: string }>;
  const refused = (res: Reply) => res.body.refused_scopes as Array<{ scope: string; reason: string }>;

  describe('a tenant key with admin:keys:write', () => {
    it('should not issue a key with scopes it does not hold, and issue none', async () => {
      const s = await namespace();
      const client = await makeClient(app);
      const manager = await makeKey(app, client.id, { scopes: ['admin:keys:write', s.read] });

      const res = await issue(client.id, [s.all, s.write, s.read], manager.key);
      expectProblem(res, 403);
      expect(refused(res)).toEqual([
        { scope: s.all, reason: 'not_held' },
        { scope: s.write, reason: 'not_held' },
      ]);
      expect((await keysOf(client.id)).map((k) => k.id)).toEqual([manager.id]);
      expect((await issue(client.id, [s.read], manager.key)).status).toBe(201);
    });

    it('should not PATCH itself into wider scopes, and forward auth still refuses it', async () => {
      const s = await namespace();
      const client = await makeClient(app);
      const manager = await makeKey(app, client.id, { scopes: ['admin:keys:write', s.read] });

      const res = await app.patch(
        `/v1/keys/${manager.id}`,
        { scopes: ['admin:keys:write', s.read, s.all] },
        { key: manager.key },
      );
      expectProblem(res, 403);
      expect(refused(res)).toEqual([{ scope: s.all, reason: 'not_held' }]);
      expect((await app.get(`/v1/keys/${manager.id}`)).body.scopes).toEqual(['admin:keys:write', s.read].sort());
      expect((await authorize(manager.key, s.write)).status).toBe(403);
      expect((await authorize(manager.key, s.read)).status).toBe(204);
      // Narrowing itself is a grant it covers.
      expect(
        (await app.patch(`/v1/keys/${manager.id}`, { scopes: ['admin:keys:write'] }, { key: manager.key })).status,
      ).toBe(200);
    });

    it('should not rotate a key of its client that holds wider scopes (the successor would be its own)', async () => {
      const s = await namespace();
      const client = await makeClient(app);
      const manager = await makeKey(app, client.id, { scopes: ['admin:keys:write', s.read] });
      const wide = await makeKey(app, client.id, { scopes: [s.all] });
      const narrow = await makeKey(app, client.id, { scopes: [s.read] });

      const res = await app.post(`/v1/keys/${wide.id}/rotate`, { grace_period_seconds: 0 }, { key: manager.key });
      expectProblem(res, 403);
      expect(refused(res)).toEqual([{ scope: s.all, reason: 'not_held' }]);
      expect((await app.get(`/v1/keys/${wide.id}`)).body).toMatchObject({ status: 'active', replaced_by: null });
      expectProblem(
        await app.patch(`/v1/keys/${wide.id}`, { ip_allowlist: ['203.0.113.0/24'] }, { key: manager.key }),
        403,
      );

      const rotated = await app.post(`/v1/keys/${narrow.id}/rotate`, { grace_period_seconds: 0 }, { key: manager.key });
      expect(rotated.status).toBe(201);
      expect(rotated.body.scopes).toEqual([s.read]);
    });

    it('should grant exactly the sets its scopes cover (generated)', async () => {
      const ns = unique('g');
      // The oracle's segments under a namespace of this run: p -> ns, x -> x, leaks/report as they are.
      const real = (scope: string) => scope.replace(/^p(?=:|$)/, ns);
      const catalog = new Set<string>();
      const catalogued = async (scopes: string[]) => {
        for (const scope of scopes.map(real)) {
          if (catalog.has(scope)) continue;
          await makeScope(app, scope);
          catalog.add(scope);
        }
      };
      const client = await makeClient(app);
      const dataScopes = scopeSet(4).map((set) => set.filter((s) => s.startsWith('p')));
      await fc.assert(
        fc.asyncProperty(dataScopes, dataScopes, async (held, wanted) => {
          await catalogued([...held, ...wanted]);
          const granter = await makeKey(app, client.id, { scopes: ['admin:keys:write', ...held.map(real)] });
          const res = await issue(client.id, wanted.map(real), granter.key);
          const allowed = wanted.every((scope) => covers(held, scope));
          expect({ held, wanted, status: res.status }).toEqual({ held, wanted, status: allowed ? 201 : 403 });
          if (allowed)
            expect((await authorize(res.body.key, wanted.map(real).join(' ') || ns)).status).toBe(
              wanted.length > 0 ? 204 : 403,
            );
        }),
        { numRuns: 25 },
      );
    });
  });

  describe('the client ceiling, allowed_scopes', () => {
    it('should hold every key of the client inside it, root keys granting included', async () => {
      const s = await namespace();
      const client = await makeClient(app, { allowed_scopes: [s.read, 'admin:keys:write'] });
      expect(client).toMatchObject({ allowed_scopes: ['admin:keys:write', s.read].sort() });

      const res = await issue(client.id, [s.read, s.write]);
      expectProblem(res, 403);
      expect(refused(res)).toEqual([{ scope: s.write, reason: 'outside_ceiling' }]);
      const key = (await issue(client.id, [s.read])).body;
      expectProblem(await app.patch(`/v1/keys/${key.id}`, { scopes: [s.all] }), 403);
      expect((await app.get(`/v1/keys/${key.id}`)).body.scopes).toEqual([s.read]);

      // A tenant key inside the ceiling is held by it too, even for scopes it holds.
      const manager = (await issue(client.id, ['admin:keys:write', s.read])).body;
      expect(refused(await issue(client.id, ['admin:keys:read'], manager.key))).toEqual([
        { scope: 'admin:keys:read', reason: 'not_held' },
      ]);
    });

    it('should widen freely, and refuse to narrow past keys that hold scopes outside it, naming them', async () => {
      const s = await namespace();
      const client = await makeClient(app);
      const wide = await makeKey(app, client.id, { scopes: [s.read, s.write] });
      const revoked = await makeKey(app, client.id, { scopes: [s.items] });
      await app.post(`/v1/keys/${revoked.id}/revoke`, { reason: 'gone' });

      const res = await app.patch(`/v1/clients/${client.id}`, { allowed_scopes: [s.read] });
      expectProblem(res, 409);
      expect(res.body).toMatchObject({
        conflicting_key_count: 1,
        conflicting_keys: [{ key_id: wide.id, scopes_outside: [s.write] }],
      });
      expect((await app.get(`/v1/clients/${client.id}`)).body.allowed_scopes).toEqual([]);

      // A wildcard ceiling covers both; a revoked key never blocks a ceiling.
      expect((await app.patch(`/v1/clients/${client.id}`, { allowed_scopes: [s.all] })).body.allowed_scopes).toEqual([
        s.all,
      ]);
      await app.patch(`/v1/keys/${wide.id}`, { scopes: [s.read] });
      expect((await app.patch(`/v1/clients/${client.id}`, { allowed_scopes: [s.read] })).status).toBe(200);
      // Empty lifts the ceiling.
      expect((await app.patch(`/v1/clients/${client.id}`, { allowed_scopes: [] })).body.allowed_scopes).toEqual([]);
      expect((await issue(client.id, [s.write])).status).toBe(201);
    });

    // A second connection holds the client row as a ceiling change does; the embedded database has one connection only.
    (usingPostgres ? it : it.skip)(
      'should make an issue under way wait for a ceiling change, then obey it',
      async () => {
        const s = await namespace();
        const client = await makeClient(app);
        const operator = new Client({ connectionString: process.env.DATABASE_URL });
        await operator.connect();
        try {
          await operator.query('BEGIN');
          await operator.query('SELECT id FROM clients WHERE id = $1 FOR UPDATE', [client.id]);
          const issuing = issue(client.id, [s.write]);
          const until = Date.now() + 10_000;
          const me = (await operator.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
          const waiting = async () =>
            (
              await operator.query<{ n: number }>(
                'SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
                [me],
              )
            ).rows[0].n;
          while ((await waiting()) === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
          await operator.query('UPDATE clients SET allowed_scopes = $2 WHERE id = $1', [client.id, [s.read]]);
          await operator.query('COMMIT');
          const res = await issuing;
          expectProblem(res, 403);
          expect(refused(res)).toEqual([{ scope: s.write, reason: 'outside_ceiling' }]);
          expect(await keysOf(client.id)).toEqual([]);
        } finally {
          await operator.end();
        }
      },
    );

    it('should be set by root keys only', async () => {
      const s = await namespace();
      const client = await makeClient(app, { allowed_scopes: [s.all, 'admin:*'] });
      const tenant = await makeKey(app, client.id, { scopes: ['admin:clients:write', 'admin:clients:read'] });
      for (const allowed_scopes of [[s.read], [s.all, 'admin:*'], []]) {
        const res = await app.patch(`/v1/clients/${client.id}`, { allowed_scopes }, { key: tenant.key });
        expectProblem(res, 403);
      }
      expect(
        (await app.patch(`/v1/clients/${client.id}`, { name: 'renamed by tenant' }, { key: tenant.key })).status,
      ).toBe(200);
      expect((await app.get(`/v1/clients/${client.id}`)).body.allowed_scopes).toEqual(['admin:*', s.all].sort());
    });

    it('should take only catalogued scopes and wildcards, and never on the system client', async () => {
      const s = await namespace();
      const res = await app.post('/v1/clients', {
        name: unique('c'),
        allowed_scopes: [s.read, 'nowhere:read', 'anything:*'],
      });
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['#/allowed_scopes/1']);
      expectProblem(await app.patch(`/v1/clients/${SYSTEM_CLIENT_ID}`, { allowed_scopes: ['admin:*'] }), 409);
    });

    it('should put the scopes granted and the ceiling changes in the audit trail', async () => {
      const s = await namespace();
      const client = await makeClient(app, { allowed_scopes: [s.all] });
      const key = await makeKey(app, client.id, { scopes: [s.read] });
      await app.patch(`/v1/keys/${key.id}`, { scopes: [s.read, s.write] });
      const successor = (await app.post(`/v1/keys/${key.id}/rotate`, { grace_period_seconds: 0 })).body;
      await app.patch(`/v1/clients/${client.id}`, { allowed_scopes: [s.read, s.write] });

      const events = (await app.get('/v1/audit-events', { query: { limit: '20' } })).body.data as Array<
        Record<string, any>
      >;
      const of = (action: string, target: string) =>
        events.find((e) => e.action === action && e.target_id === target)?.changes;
      expect(of('client.created', client.id)).toMatchObject({ allowed_scopes: [s.all] });
      expect(of('key.issued', key.id)).toMatchObject({ scopes: [s.read] });
      expect(of('key.updated', key.id)).toMatchObject({ scopes: { from: [s.read], to: [s.read, s.write].sort() } });
      expect(of('key.rotated', key.id)).toMatchObject({ replaced_by: successor.id, scopes: [s.read, s.write].sort() });
      expect(of('client.updated', client.id)).toMatchObject({
        allowed_scopes: { from: [s.all], to: [s.read, s.write].sort() },
      });
    });
  });

  describe('expiry', () => {
    async function expiredKey(clientId: string) {
      const key = await makeKey(app, clientId, { ttl_seconds: 1 });
      const until = Date.now() + 5000;
      while ((await app.get(`/v1/keys/${key.id}`)).body.status !== 'expired' && Date.now() < until)
        await new Promise((r) => setTimeout(r, 100));
      return key;
    }

    it('should refuse to change an expired or revoked key with a 409, so it never comes back to life', async () => {
      const client = await makeClient(app);
      const expired = await expiredKey(client.id);
      for (const body of [{ expires_at: null }, { expires_at: '2099-01-01T00:00:00Z' }, { name: 'renamed' }]) {
        const res = await app.patch(`/v1/keys/${expired.id}`, body);
        expectProblem(res, 409);
        expect(res.body.key_status).toBe('expired');
      }
      expect((await app.get(`/v1/keys/${expired.id}`)).body.status).toBe('expired');
      expect((await authorize(expired.key, 'x:y')).status).toBe(401);

      const revoked = await makeKey(app, client.id);
      await app.post(`/v1/keys/${revoked.id}/revoke`, {});
      expect((await app.patch(`/v1/keys/${revoked.id}`, { expires_at: null })).body.key_status).toBe('revoked');
    });

    it('should let a tenant key move an expiry earlier, never remove or extend it; root may', async () => {
      const client = await makeClient(app);
      const manager = await makeKey(app, client.id, { scopes: ['admin:keys:write'] });
      const inAWeek = new Date(Date.now() + 7 * 86400_000);
      const key = await makeKey(app, client.id, { expires_at: inAWeek.toISOString() });
      const asTenant = { key: manager.key };

      expectProblem(await app.patch(`/v1/keys/${key.id}`, { expires_at: null }, asTenant), 403);
      expectProblem(
        await app.patch(
          `/v1/keys/${key.id}`,
          { expires_at: new Date(inAWeek.getTime() + 1000).toISOString() },
          asTenant,
        ),
        403,
      );
      expectProblem(await app.post(`/v1/keys/${key.id}/rotate`, { expires_at: null }, asTenant), 403);
      expectProblem(await app.post(`/v1/keys/${key.id}/rotate`, { ttl_seconds: 30 * 86400 }, asTenant), 403);
      expect((await app.get(`/v1/keys/${key.id}`)).body).toMatchObject({
        expires_at: inAWeek.toISOString(),
        replaced_by: null,
      });

      const sooner = new Date(Date.now() + 86400_000).toISOString();
      expect((await app.patch(`/v1/keys/${key.id}`, { expires_at: sooner }, asTenant)).body.expires_at).toBe(sooner);
      const unbounded = await makeKey(app, client.id);
      expect((await app.patch(`/v1/keys/${unbounded.id}`, { expires_at: sooner }, asTenant)).body.expires_at).toBe(
        sooner,
      );
      expect((await app.patch(`/v1/keys/${key.id}`, { expires_at: null })).body.expires_at).toBeNull();
    });
  });

  describe('answers that carry a secret', () => {
    it('should not be kept by any cache', async () => {
      const client = await makeClient(app);
      const issued = await app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'fresh' });
      expect(issued.status).toBe(201);
      expect(issued.headers['cache-control']).toBe('no-store');
      const rotated = await app.post(`/v1/keys/${issued.body.id}/rotate`, { grace_period_seconds: 0 });
      expect(rotated.status).toBe(201);
      expect(rotated.headers['cache-control']).toBe('no-store');
    });
  });
});
