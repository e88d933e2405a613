import { randomUUID } from 'node:crypto';
import { chainHash } from '../../src/audit/audit-chain';
import { AuditLog } from '../../src/audit/audit-log';
import { DeniedAttempts } from '../../src/audit/denied-attempts';
import { KeyDigest } from '../../src/credentials/key-digest';
import { keyHint } from '../../src/credentials/key-format';
import { SYSTEM_CLIENT_ID } from '../../src/keys/root-key.bootstrap';
import {
  allPages,
  errorPointers,
  expectProblem,
  makeClient,
  makeClientWithKey,
  makeKey,
  makeScope,
  unique,
} from '../support/factories';
import { Call, Reply } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

interface AuditEvent {
  id: string;
  occurred_at: string;
  actor_key_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  client_id: string | null;
  request_id: string | null;
  source_ip: string | null;
  changes: Record<string, any>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('audit events', () => {
  let started: string;
  let rootKeyId: string;
  const app = useTestApp();
  beforeAll(async () => {
    started = new Date(Date.now() - 1000).toISOString();
    const systemKeys = (await allPages(app, `/v1/keys?client_id=${SYSTEM_CLIENT_ID}&limit=200`)).items;
    rootKeyId = systemKeys.find((k) => k.hint === keyHint(app.rootKey))!.id;
  });

  /** Sends a call under a request id of its own and answers both. */
  async function traced(method: string, url: string, call: Call = {}): Promise<{ res: Reply; requestId: string }> {
    const requestId = `audit-${randomUUID()}`;
    const res = await app.call(method, url, { ...call, headers: { ...call.headers, 'x-request-id': requestId } });
    expect(res.headers['x-request-id']).toBe(requestId);
    return { res, requestId };
  }

  /** Every event this run wrote with the request id, once the denial recorder has caught up. */
  async function eventsOf(requestId: string): Promise<AuditEvent[]> {
    await app.app.get(DeniedAttempts, { strict: false }).settled();
    return (
      await allPages<AuditEvent>(app, `/v1/audit-events?from=${encodeURIComponent(started)}&limit=200`)
    ).items.filter((e) => e.request_id === requestId);
  }

  /** The one event of a request, checked for who, what, where and when. */
  async function theEventOf(requestId: string, before: number, after: number, actor = rootKeyId): Promise<AuditEvent> {
    const events = await eventsOf(requestId);
    expect(events).toHaveLength(1);
    const event = events[0];
    expect(event).toMatchObject({ actor_key_id: actor, request_id: requestId, source_ip: '127.0.0.1' });
    expect(Date.parse(event.occurred_at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(event.occurred_at)).toBeLessThanOrEqual(after);
    return event;
  }

  it('should have recorded the bootstrap of the root key, by no key', async () => {
    const res = await app.get(`/v1/audit-events?action=key.issued&target=${rootKeyId}`);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0]).toMatchObject({
      actor_key_id: null,
      action: 'key.issued',
      target_type: 'key',
      target_id: rootKeyId,
      client_id: SYSTEM_CLIENT_ID,
      request_id: 'bootstrap',
      changes: { name: 'root', scopes: ['admin:*'], hint: keyHint(app.rootKey), source: 'BOOTSTRAP_ROOT_KEY' },
    });
  });

  it('should write one event per state change, with actor, action, target, request id, source address and the change', async () => {
    const step = async (method: string, url: string, body?: unknown) => {
      const before = Date.now();
      const { res, requestId } = await traced(method, url, { body });
      expect(res.status).toBeLessThan(300);
      return { res, event: await theEventOf(requestId, before, Date.now()) };
    };
    const name = unique('audited');

    const created = await step('POST', '/v1/clients', { name, description: 'd', metadata: { a: 1 } });
    const clientId = created.res.body.id;
    expect(created.event).toMatchObject({
      action: 'client.created',
      target_type: 'client',
      target_id: clientId,
      client_id: clientId,
      changes: { name, description: 'd', metadata: { a: 1 } },
    });

    const renamed = await step('PATCH', `/v1/clients/${clientId}`, { name: `${name}-2` });
    expect(renamed.event).toMatchObject({
      action: 'client.updated',
      target_id: clientId,
      changes: { name: { from: name, to: `${name}-2` } },
    });
    expect(Object.keys(renamed.event.changes)).toEqual(['name']);

    const suspended = await step('PATCH', `/v1/clients/${clientId}`, { status: 'suspended' });
    expect(suspended.event).toMatchObject({
      action: 'client.suspended',
      changes: { status: { from: 'active', to: 'suspended' } },
    });
    const reactivated = await step('PATCH', `/v1/clients/${clientId}`, { status: 'active' });
    expect(reactivated.event).toMatchObject({
      action: 'client.reactivated',
      changes: { status: { from: 'suspended', to: 'active' } },
    });

    const scopeName = `${unique('audit')}:read`;
    const scope = await step('POST', '/v1/scopes', { name: scopeName, description: 'audited scope' });
    expect(scope.event).toMatchObject({
      action: 'scope.created',
      target_type: 'scope',
      target_id: scopeName,
      changes: { description: 'audited scope' },
    });

    const issued = await step('POST', `/v1/clients/${clientId}/keys`, {
      environment: 'test',
      name: 'k',
      scopes: [scopeName],
      usage_limit: 5,
    });
    const keyId = issued.res.body.id;
    expect(issued.event).toMatchObject({
      action: 'key.issued',
      target_type: 'key',
      target_id: keyId,
      client_id: clientId,
      changes: { environment: 'test', name: 'k', scopes: [scopeName], usage_limit: 5, hint: issued.res.body.hint },
    });

    const updated = await step('PATCH', `/v1/keys/${keyId}`, { name: 'k2', scopes: [] });
    expect(updated.event).toMatchObject({
      action: 'key.updated',
      target_id: keyId,
      changes: { name: { from: 'k', to: 'k2' }, scopes: { from: [scopeName], to: [] } },
    });
    expect(Object.keys(updated.event.changes).sort()).toEqual(['name', 'scopes']);

    const rotated = await step('POST', `/v1/keys/${keyId}/rotate`, { grace_period_seconds: 60 });
    expect(rotated.event).toMatchObject({
      action: 'key.rotated',
      target_id: keyId,
      client_id: clientId,
      changes: {
        replaced_by: rotated.res.body.id,
        successor_hint: rotated.res.body.hint,
        grace_ends_at: expect.any(String),
      },
    });

    const revoked = await step('POST', `/v1/keys/${rotated.res.body.id}/revoke`, { reason: 'audit test' });
    expect(revoked.event).toMatchObject({
      action: 'key.revoked',
      target_id: rotated.res.body.id,
      changes: { reason: 'audit test' },
    });

    const deleted = await step('DELETE', `/v1/scopes/${scopeName}`);
    expect(deleted.event).toMatchObject({ action: 'scope.deleted', target_type: 'scope', target_id: scopeName });
  });

  it('should name the key that acted, and record a request id it made up when the caller sent none', async () => {
    const { client, key } = await makeClientWithKey(app, ['admin:keys:write']);
    const before = Date.now();
    const res = await app.post(
      `/v1/clients/${client.id}/keys`,
      { environment: 'live', name: 'by a client key' },
      { key: key.key },
    );
    const requestId = String(res.headers['x-request-id']);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const event = await theEventOf(requestId, before, Date.now(), key.id);
    expect(event.target_id).toBe(res.body.id);
  });

  it("should store, answer and log a caller's X-Request-Id only when it is short and plain, on the admin API and the hot path", async () => {
    const hostile = [
      'line\nbreak',
      'a\u0000b',
      '\u001b[31mred',
      'id with spaces',
      'ключ',
      '🔑',
      '"quoted"',
      'x'.repeat(129),
      'x'.repeat(8000),
      'a,b',
    ];
    for (const [i, id] of hostile.entries()) {
      const client = await makeClient(app);
      const res = await app.post(
        `/v1/clients/${client.id}/keys`,
        { environment: 'live', name: `hostile id ${i}` },
        { headers: { 'x-request-id': id } },
      );
      expect(res.status).toBe(201);
      const answered = String(res.headers['x-request-id']);
      expect(answered).toMatch(/^[0-9a-f-]{36}$/);
      expect((await eventsOf(answered)).map((e) => e.target_id)).toEqual([res.body.id]);
      // The hot path's direct answers (a 401 here) make their own id alike.
      const direct = await app.post('/v1/introspect', { token: 'x' }, { key: null, headers: { 'x-request-id': id } });
      expect(direct.status).toBe(401);
      expect(direct.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const plain = `Req.1:a_b-${'x'.repeat(100)}`;
    expect(
      (await app.post('/v1/introspect', { token: 'x' }, { key: null, headers: { 'x-request-id': plain } })).headers[
        'x-request-id'
      ],
    ).toBe(plain);
  });

  it('should never record a secret or a digest', async () => {
    const digest = app.app.get(KeyDigest, { strict: false });
    const client = await makeClient(app);
    const issued = await makeKey(app, client.id, { scopes: ['admin:keys:write'] });
    const rotated = (await app.post(`/v1/keys/${issued.id}/rotate`, { grace_period_seconds: 0 })).body;
    await app.patch(`/v1/keys/${rotated.id}`, { name: 'renamed' }, { key: rotated.key });
    await app.post(`/v1/keys/${rotated.id}/revoke`, { reason: 'done' });
    // A denied attempt with a key in the URL and body: neither may reach the trail.
    await app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: issued.key }, { key: rotated.key });
    await app.app.get(DeniedAttempts, { strict: false }).settled();

    const everything = (
      await allPages(
        app,
        `/v1/audit-events?limit=200${process.env.DATABASE_URL ? `&from=${encodeURIComponent(started)}` : ''}`,
      )
    ).items;
    expect(everything.length).toBeGreaterThanOrEqual(4);
    const trail = JSON.stringify(everything);
    for (const secret of [issued.key, rotated.key, app.rootKey]) {
      expect(trail).not.toContain(secret);
      expect(trail).not.toContain(secret.slice(8));
      expect(trail).not.toContain(digest.of(secret));
    }
  });

  describe('GET /v1/audit-events', () => {
    /** A client with eight events of its own: created and patched seven times. */
    async function busyClient() {
      const client = await makeClient(app);
      for (let i = 0; i < 7; i++) await app.patch(`/v1/clients/${client.id}`, { metadata: { n: i } });
      return client;
    }

    it('should list newest first over several pages, each event once', async () => {
      const client = await busyClient();
      const { items, pages } = await allPages<AuditEvent>(app, `/v1/audit-events?target=${client.id}&limit=3`);
      expect(pages).toBe(3);
      expect(items.map((e) => e.action)).toEqual([...Array(7).fill('client.updated'), 'client.created']);
      expect(items.map((e) => e.changes.metadata?.to?.n ?? 'created')).toEqual([6, 5, 4, 3, 2, 1, 0, 'created']);
      for (let i = 1; i < items.length; i++) {
        expect(BigInt(items[i - 1].id) > BigInt(items[i].id)).toBe(true);
        expect(items[i - 1].occurred_at >= items[i].occurred_at).toBe(true);
      }
      expect((await app.get(`/v1/audit-events?target=${client.id}&limit=200`)).body.data).toEqual(items);
    });

    it('should filter by action, target, actor and time, alone and together', async () => {
      const client = await busyClient();
      const { key: actor } = await makeClientWithKey(app, ['admin:*']);
      const own = (await app.get('/v1/clients?limit=1', { key: actor.key })).body.data[0].id;
      const issued = (await app.post(`/v1/clients/${own}/keys`, { environment: 'live', name: 'x' }, { key: actor.key }))
        .body;
      await app.post(`/v1/keys/${issued.id}/revoke`, { reason: 'r' }, { key: actor.key });
      await sleep(5);
      const middle = new Date().toISOString();
      await sleep(5);
      await app.patch(`/v1/clients/${client.id}`, { description: 'last' });

      const list = async (query: string) =>
        (await allPages<AuditEvent>(app, `/v1/audit-events?limit=200&${query}`)).items;

      const byAction = await list('action=key.revoked');
      expect(byAction.every((e) => e.action === 'key.revoked')).toBe(true);
      expect(byAction.map((e) => e.target_id)).toContain(issued.id);
      expect((await list(`target=${client.id}`)).every((e) => e.target_id === client.id)).toBe(true);
      expect((await list(`actor=${actor.id}`)).map((e) => e.action)).toEqual(['key.revoked', 'key.issued']);
      expect((await list(`actor=${actor.id}&action=key.issued`)).map((e) => e.target_id)).toEqual([issued.id]);
      expect(
        (await list(`target=${client.id}&from=${encodeURIComponent(middle)}`)).map((e) => e.changes.description?.to),
      ).toEqual(['last']);
      const earlier = await list(`target=${client.id}&to=${encodeURIComponent(middle)}`);
      expect(earlier).toHaveLength(8);
      expect(earlier.every((e) => e.occurred_at < middle)).toBe(true);
      expect(await list(`target=${client.id}&action=key.revoked`)).toEqual([]);
    });

    it("should show a tenant's reader its own client's trail without addresses, and without the key ids of operators", async () => {
      const { client, key: admin } = await makeClientWithKey(app, ['admin:*']);
      await app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'by root' });
      const own = (
        await app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'by itself' }, { key: admin.key })
      ).body;
      const asTenant = (query = '') =>
        allPages<AuditEvent>(app, `/v1/audit-events?limit=200${query}`, { key: admin.key });

      const seen = (await asTenant()).items;
      const byRoot = seen.filter((e) => e.action === 'key.issued' && e.changes.name === 'by root');
      const byItself = seen.filter((e) => e.action === 'key.issued' && e.target_id === own.id);
      expect(byRoot).toHaveLength(1);
      expect(byItself).toHaveLength(1);
      expect(seen.every((e) => e.source_ip === null)).toBe(true);
      expect(byRoot[0].actor_key_id).toBeNull();
      expect(byItself[0].actor_key_id).toBe(admin.id);
      expect(JSON.stringify(seen)).not.toContain(rootKeyId);
      // Nor can it find them by filtering on the operator's key id; its own key it can.
      expect((await asTenant(`&actor=${rootKeyId}`)).items).toEqual([]);
      expect((await asTenant(`&actor=${admin.id}`)).items.map((e) => e.target_id)).toEqual([own.id]);

      // A root reader sees the same events whole.
      const whole = (await allPages<AuditEvent>(app, `/v1/audit-events?limit=200&target=${byRoot[0].target_id}`)).items;
      expect(whole[0]).toMatchObject({ actor_key_id: rootKeyId, source_ip: '127.0.0.1' });
    });

    it("should give a tenant's reader nothing to confirm a guess of a hidden address or key id against, and no operator's key id in changes", async () => {
      const { client, key: admin } = await makeClientWithKey(app, ['admin:*']);
      await app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'by root' });
      const leaked = await makeKey(app, client.id);
      expect((await app.post('/v1/keys/leaked', { key: leaked.key, source: 'scanner' })).body).toMatchObject({
        revoked: true,
      });
      await app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'by itself' }, { key: admin.key });
      const seen = (
        await allPages<AuditEvent & { hash: string | null; prev_hash: string | null }>(
          app,
          '/v1/audit-events?limit=200',
          { key: admin.key },
        )
      ).items;
      expect(seen.map((e) => e.action)).toEqual(expect.arrayContaining(['key.issued', 'key.revoked']));
      // The operator who reported the leak is no more named in changes than as the actor.
      expect(JSON.stringify(seen)).not.toContain(rootKeyId);
      // With the hash and its predecessor, the hidden fields are one guess away: the test's own address and the root key.
      const guesses = [rootKeyId, admin.id].flatMap((actorKeyId) =>
        ['127.0.0.1', '::1'].map((sourceIp) => ({ actorKeyId, sourceIp })),
      );
      const confirmed = seen.filter(
        (e) =>
          e.hash !== null &&
          e.prev_hash !== null &&
          guesses.some(
            (guess) =>
              chainHash(e.prev_hash!, {
                occurredAt: e.occurred_at,
                action: e.action,
                targetType: e.target_type,
                targetId: e.target_id,
                clientId: e.client_id,
                requestId: e.request_id,
                changes: e.changes,
                ...guess,
              }) === e.hash,
          ),
      );
      expect(confirmed.map((e) => e.action)).toEqual([]);
    });

    it.each([
      ['action=Key.Revoked', ['#/action']],
      ['actor=someone', ['#/actor']],
      ['from=yesterday', ['#/from']],
      ['from=2026-02-30', ['#/from']],
      ['to=2026-W01', ['#/to']],
      ['from=0000-01-01', ['#/from']],
      ['cursor=WyJhIiwiYiJd', ['query/cursor']],
      ['limit=0', ['#/limit']],
      ['secret=1', ['#/secret']],
    ])('should refuse the query %s', async (query, pointers) => {
      const res = await app.get(`/v1/audit-events?${query}`);
      expectProblem(res, 400, '/v1/audit-events');
      expect(errorPointers(res)).toEqual(pointers);
    });
  });

  describe('a change that fails', () => {
    it('should write no event', async () => {
      const scope = await makeScope(app);
      const client = await makeClient(app);
      const held = await makeKey(app, client.id, { scopes: [scope.name] });
      const rotated = await makeKey(app, client.id);
      await app.post(`/v1/keys/${rotated.id}/rotate`, {});
      const revoked = await makeKey(app, client.id);
      await app.post(`/v1/keys/${revoked.id}/revoke`, { reason: 'x' });
      const { key: weak } = await makeClientWithKey(app, ['admin:clients:read']);

      const failures: [string, string, Call, number][] = [
        [
          'POST',
          `/v1/clients/${client.id}/keys`,
          { body: { environment: 'live', name: 'k', scopes: ['nowhere:read'] } },
          400,
        ],
        [
          'POST',
          `/v1/clients/${client.id}/keys`,
          { body: { environment: 'live', name: 'k', expires_at: '2001-01-01T00:00:00Z' } },
          400,
        ],
        ['PATCH', `/v1/clients/${client.id}`, { body: { name: null } }, 400],
        ['POST', `/v1/keys/${rotated.id}/rotate`, { body: {} }, 409],
        ['PATCH', `/v1/keys/${revoked.id}`, { body: { name: 'again' } }, 409],
        ['POST', '/v1/scopes', { body: { name: scope.name } }, 409],
        ['DELETE', `/v1/scopes/${scope.name}`, {}, 409],
        ['PATCH', `/v1/clients/${SYSTEM_CLIENT_ID}`, { body: { status: 'suspended' } }, 409],
        ['PATCH', '/v1/clients/6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11', { body: { name: 'ghost' } }, 404],
        ['POST', '/v1/clients', { body: { name: 'not yours to make' }, key: weak.key }, 403],
      ];
      const refused: { requestId: string; status: number }[] = [];
      for (const [method, url, call, status] of failures) {
        const { res, requestId } = await traced(method, url, call);
        expect(`${method} ${url} ${res.status}`).toBe(`${method} ${url} ${status}`);
        refused.push({ requestId, status });
      }
      for (const { requestId, status } of refused) {
        // A 403 is itself recorded, as an access.denied event, and nothing else is.
        expect((await eventsOf(requestId)).map((e) => e.action)).toEqual(status === 403 ? ['access.denied'] : []);
      }
      expect((await app.get(`/v1/keys/${held.id}`)).body.scopes).toEqual([scope.name]);
    });

    it('should write no event for a change that changes nothing', async () => {
      const client = await makeClient(app, { description: 'same' });
      const key = await makeKey(app, client.id, { name: 'same' });
      await app.post(`/v1/keys/${key.id}/revoke`, { reason: 'first' });
      const noops: [string, string, unknown][] = [
        ['PATCH', `/v1/clients/${client.id}`, { description: 'same' }],
        ['PATCH', `/v1/clients/${client.id}`, {}],
        ['POST', `/v1/keys/${key.id}/revoke`, { reason: 'second' }],
      ];
      for (const [method, url, body] of noops) {
        const { res, requestId } = await traced(method, url, { body });
        expect(res.status).toBe(200);
        expect(await eventsOf(requestId)).toEqual([]);
      }
    });

    it('should leave no change behind when its audit event cannot be written', async () => {
      const audit = app.app.get(AuditLog, { strict: false });
      const client = await makeClient(app);
      const key = await makeKey(app, client.id);
      const spy = jest.spyOn(audit, 'append').mockRejectedValue(new Error('audit trail unavailable'));
      const name = unique('never');
      try {
        expectProblem(await app.post('/v1/clients', { name }), 500);
        expectProblem(await app.post(`/v1/keys/${key.id}/revoke`, { reason: 'x' }), 500);
        expectProblem(await app.patch(`/v1/clients/${client.id}`, { status: 'suspended' }), 500);
        expectProblem(await app.post(`/v1/keys/${key.id}/rotate`, {}), 500);
      } finally {
        spy.mockRestore();
      }
      expect((await allPages(app, '/v1/clients?limit=200')).items.map((c) => c.name)).not.toContain(name);
      expect((await app.get(`/v1/keys/${key.id}`)).body).toMatchObject({
        status: 'active',
        revoked_at: null,
        replaced_by: null,
      });
      expect((await app.get(`/v1/clients/${client.id}`)).body.status).toBe('active');
      expect((await allPages(app, `/v1/keys?client_id=${client.id}`)).items).toHaveLength(1);
    });
  });
});
