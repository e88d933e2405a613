import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditLog } from '../../src/audit/audit-log';
import { DeniedAttempts } from '../../src/audit/denied-attempts';
import { Metrics } from '../../src/metrics/metrics';
import { makeClient, makeKey, makeScope } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

describe('denied admin attempts', () => {
  let db: DataSource;
  let own: { id: string };
  let other: { id: string };
  let reader: Awaited<ReturnType<typeof makeKey>>;
  let othersKey: Awaited<ReturnType<typeof makeKey>>;

  const app = useTestApp();
  beforeAll(async () => {
    db = app.app.get(DataSource);
    own = await makeClient(app);
    other = await makeClient(app);
    reader = await makeKey(app, own.id, { scopes: ['admin:keys:read', 'admin:clients:read', 'admin:audit:read'] });
    othersKey = await makeKey(app, other.id);
  });

  /** Sends a request with a request id of its own, and returns the events recorded for it once they are written. */
  async function attempt(method: string, url: string, key: string | null, body?: unknown) {
    const requestId = `denied-${randomUUID()}`;
    const res = await app.call(method, url, { key, headers: { 'x-request-id': requestId }, body });
    await app.app.get(DeniedAttempts).settled();
    const events = await db.query('SELECT * FROM audit_events WHERE request_id = $1', [requestId]);
    return { res, events, requestId };
  }

  it('should record a 403 from the guard with the actor, address, request, and the scope it lacked', async () => {
    const { res, events, requestId } = await attempt('POST', `/v1/keys/${reader.id}/revoke`, reader.key, {
      reason: 'try',
    });
    expect(res.status).toBe(403);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: 'access.denied',
      actor_key_id: reader.id,
      target_type: 'key',
      target_id: reader.id,
      client_id: null,
      request_id: requestId,
      source_ip: '127.0.0.1',
      changes: {
        status: 403,
        method: 'POST',
        path: `/v1/keys/${reader.id}/revoke`,
        required_scopes: ['admin:keys:write'],
        reason: 'missing_scope',
      },
    });
  });

  it('should record a 403 from introspection for a key without admin:introspect', async () => {
    const { res, events } = await attempt('POST', '/v1/introspect', reader.key, { token: othersKey.key });
    expect(res.status).toBe(403);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor_key_id: reader.id,
      target_type: 'system',
      target_id: '/v1/introspect',
      changes: {
        status: 403,
        method: 'POST',
        path: '/v1/introspect',
        required_scopes: ['admin:introspect'],
        reason: 'missing_scope',
      },
    });
    expect(JSON.stringify(events)).not.toContain(othersKey.key);
  });

  it('should record a 403 a service gives a key that holds the scope', async () => {
    const { res, events } = await attempt('GET', '/v1/audit-events/verify', reader.key);
    expect(res.status).toBe(403);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      target_type: 'system',
      target_id: '/v1/audit-events/verify',
      changes: { status: 403, method: 'GET', required_scopes: ['admin:audit:read'], reason: 'not_permitted' },
    });
  });

  it.each([
    ['key', 'GET', () => `/v1/keys/${othersKey.id}`, () => ({ target_type: 'key', target_id: othersKey.id })],
    [
      'key, on revoke',
      'POST',
      () => `/v1/keys/${othersKey.id}/revoke`,
      () => ({ target_type: 'key', target_id: othersKey.id }),
    ],
    ['client', 'GET', () => `/v1/clients/${other.id}`, () => ({ target_type: 'client', target_id: other.id })],
    [
      'key usage',
      'GET',
      () => `/v1/keys/${othersKey.id}/usage`,
      () => ({ target_type: 'key', target_id: othersKey.id }),
    ],
  ])("should record the 404 that hides another client's %s", async (_, method, url, target) => {
    const writer = await makeKey(app, own.id, { scopes: ['admin:*'] });
    const { res, events } = await attempt(method, url(), writer.key, method === 'POST' ? {} : undefined);
    expect(res.status).toBe(404);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: 'access.denied',
      actor_key_id: writer.id,
      ...target(),
      changes: { status: 404, reason: 'other_client' },
    });
  });

  it('should not record a 404 for something that does not exist, nor a root key’s 404', async () => {
    expect((await attempt('GET', `/v1/keys/${randomUUID()}`, reader.key)).events).toEqual([]);
    expect((await attempt('GET', '/v1/keys/not-a-uuid', reader.key)).events).toEqual([]);
    const root = await attempt('GET', `/v1/keys/${randomUUID()}`, app.rootKey);
    expect(root.res.status).toBe(404);
    expect(root.events).toEqual([]);
  });

  it('should not record a 401: an unknown caller is no actor', async () => {
    const missing = await attempt('GET', '/v1/keys', null);
    const unknown = await attempt('GET', '/v1/keys', 'sk_live_' + 'A'.repeat(49));
    expect([missing.res.status, unknown.res.status]).toEqual([401, 401]);
    expect([...missing.events, ...unknown.events]).toEqual([]);
  });

  it('should never store the presented key, nor a key typed into the path', async () => {
    const { res, events } = await attempt('POST', `/v1/keys/${othersKey.key}/revoke`, reader.key, {});
    expect(res.status).toBe(403);
    expect(events).toHaveLength(1);
    expect(events[0].changes.path).toBe('/v1/keys/:id/revoke');
    const stored = JSON.stringify(await db.query(`SELECT * FROM audit_events WHERE action = 'access.denied'`));
    for (const secret of [reader.key, othersKey.key, app.rootKey]) expect(stored).not.toContain(secret);
  });

  it('should show denials to root keys only', async () => {
    await attempt('POST', `/v1/keys/${reader.id}/revoke`, reader.key, {});
    const mine = await app.get('/v1/audit-events', { key: reader.key, query: { action: 'access.denied' } });
    expect(mine.status).toBe(200);
    expect(mine.body.data).toEqual([]);
    const root = await app.get('/v1/audit-events', { query: { action: 'access.denied', actor: reader.id } });
    expect(root.body.data.length).toBeGreaterThanOrEqual(1);
  });

  it('should answer the same 403 when the event cannot be written', async () => {
    const audit = app.app.get(AuditLog);
    const failed = () =>
      app.app
        .get(Metrics)
        .deniedAttempts.get()
        .then((m) => m.values.find((v) => v.labels.result === 'failed')?.value ?? 0);
    const before = await failed();
    const spy = jest.spyOn(audit, 'append').mockRejectedValueOnce(new Error('database is gone'));
    try {
      const { res, events } = await attempt('POST', `/v1/keys/${reader.id}/revoke`, reader.key, {});
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ status: 403, required_scopes: ['admin:keys:write'] });
      expect(events).toEqual([]);
      expect(await failed()).toBe(before + 1);
    } finally {
      spy.mockRestore();
    }
    expect((await attempt('POST', `/v1/keys/${reader.id}/revoke`, reader.key, {})).events).toHaveLength(1);
  });

  it('should fold a flood of denials by one key into a few events that count them all, and keep actors apart', async () => {
    const flooder = await makeKey(app, own.id, { scopes: [(await makeScope(app)).name] });
    const bystander = await makeKey(app, own.id, { scopes: ['admin:keys:read'] });
    const N = 200;
    const answers = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        app.post('/v1/clients', { name: 'x' }, { key: i % 10 === 0 ? bystander.key : flooder.key }),
      ),
    );
    expect(answers.every((res) => res.status === 403)).toBe(true);
    await app.app.get(DeniedAttempts).settled();
    const eventsOf = (actor: string) =>
      db.query<{ changes: Record<string, any> }[]>(
        `SELECT changes FROM audit_events WHERE action = 'access.denied' AND actor_key_id = $1`,
        [actor],
      );
    const flood = await eventsOf(flooder.id);
    const bystanders = await eventsOf(bystander.id);
    // One event per window of DENIAL_LIMITS.windowMs: a slow machine may cross one window end.
    expect(flood.length).toBeGreaterThanOrEqual(1);
    expect(flood.length).toBeLessThanOrEqual(2);
    expect(flood.reduce((sum, e) => sum + e.changes.count, 0)).toBe(N * 0.9);
    expect(bystanders.reduce((sum, e) => sum + e.changes.count, 0)).toBe(N * 0.1);
    for (const { changes } of [...flood, ...bystanders]) {
      expect(changes).toMatchObject({ status: 403, method: 'POST', path: '/v1/clients', reason: 'missing_scope' });
      expect(Date.parse(changes.first_at)).toBeLessThanOrEqual(Date.parse(changes.last_at));
    }
    expect((await app.get('/v1/audit-events/verify')).body).toMatchObject({ ok: true });
  });

  it('should keep the chain whole while denials are written', async () => {
    await Promise.all(
      Array.from({ length: 20 }, () => app.post(`/v1/keys/${reader.id}/revoke`, {}, { key: reader.key })),
    );
    await app.app.get(DeniedAttempts).settled();
    expect((await app.get('/v1/audit-events/verify')).body).toMatchObject({ ok: true });
  });
});
