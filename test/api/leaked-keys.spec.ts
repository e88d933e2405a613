import { generateKey } from '../../src/credentials/key-format';
import { makeClient, makeKey } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 3000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function withBadChecksum(key: string): string {
  return key.slice(0, -1) + (key.endsWith('0') ? '1' : '0');
}

describe('leaked key reports', () => {
  const app = useTestApp();

  const report = (key: string, extra: Record<string, unknown> = {}, reporter?: string) =>
    app.post('/v1/keys/leaked', { key, source: 'github secret scanning', ...extra }, { key: reporter });
  const revocationsOf = async (keyId: string) =>
    (await app.get('/v1/audit-events', { query: { action: 'key.revoked', target: keyId } })).body.data as Array<
      Record<string, any>
    >;

  it('should revoke a good key at once, record the reporter, and never echo the secret', async () => {
    const client = await makeClient(app);
    const leaked = await makeKey(app, client.id, { scopes: ['admin:keys:read'] });
    expect((await app.get(`/v1/keys/${leaked.id}`, { key: leaked.key })).status).toBe(200);

    const url = 'https://github.com/acme/shop/blob/main/.env';
    const res = await report(leaked.key, { url });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ matched: true, revoked: true, key_id: leaked.id, hint: leaked.hint });
    expect(res.raw).not.toContain(leaked.key);

    const key = await app.get(`/v1/keys/${leaked.id}`);
    expect(key.body).toMatchObject({ status: 'revoked', revoked_reason: 'leaked' });
    const [event, ...more] = await revocationsOf(leaked.id);
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      client_id: client.id,
      changes: { reason: 'leaked', reported_by: expect.any(String), source: 'github secret scanning', url },
    });
    expect(JSON.stringify(event)).not.toContain(leaked.key);

    // The leaked key stops working for the admin API too, through the same verifier and cache.
    const after = await eventually(
      () => app.get(`/v1/keys/${leaked.id}`, { key: leaked.key }),
      (r) => r.status === 401,
    );
    expect(after.status).toBe(401);
  });

  it('should answer matched without revoking a key that is already revoked or expired', async () => {
    const client = await makeClient(app);
    const revoked = await makeKey(app, client.id);
    await app.post(`/v1/keys/${revoked.id}/revoke`, { reason: 'rotated out' });
    expect((await report(revoked.key)).body).toEqual({
      matched: true,
      revoked: false,
      key_id: revoked.id,
      hint: revoked.hint,
    });
    expect((await app.get(`/v1/keys/${revoked.id}`)).body.revoked_reason).toBe('rotated out');

    const expired = await makeKey(app, client.id);
    await app.post(`/v1/keys/${expired.id}/rotate`, { grace_period_seconds: 0 });
    expect((await report(expired.key)).body).toMatchObject({ matched: true, revoked: false });
    expect(await revocationsOf(expired.id)).toEqual([]);
  });

  it('should revoke a key of a rotated pair while it is in grace', async () => {
    const client = await makeClient(app);
    const old = await makeKey(app, client.id);
    await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 3600 });
    expect((await report(old.key)).body).toMatchObject({ matched: true, revoked: true });
  });

  it.each([
    ['a string that is no key', 'not a key at all'],
    ['a key with a bad checksum', withBadChecksum(generateKey('live'))],
    ['a well-formed key Keyhouse never issued', generateKey('test')],
  ])('should answer matched: false for %s', async (_, candidate) => {
    const res = await report(candidate);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ matched: false, revoked: false });
  });

  it("should let a client's own admin key revoke its own keys by report, naming them", async () => {
    const mine = await makeClient(app);
    const reporter = await makeKey(app, mine.id, { scopes: ['admin:keys:write'] });
    const own = await makeKey(app, mine.id);
    expect((await report(own.key, {}, reporter.key)).body).toEqual({
      matched: true,
      revoked: true,
      key_id: own.id,
      hint: own.hint,
    });
  });

  describe("another client's key", () => {
    const leakReports = async (keyId: string, key?: string) =>
      (await app.get('/v1/audit-events', { query: { action: 'key.leak_reported', target: keyId }, key })).body
        .data as Array<Record<string, any>>;

    it('should not be revoked by a tenant that reports it, which learns nothing, and root sees the report', async () => {
      const mine = await makeClient(app);
      const theirs = await makeClient(app);
      const reporter = await makeKey(app, mine.id, { scopes: ['admin:keys:write', 'admin:audit:read'] });
      const foreign = await makeKey(app, theirs.id, { scopes: ['admin:audit:read'] });
      const spent = await makeKey(app, theirs.id);
      await app.post(`/v1/keys/${spent.id}/revoke`, { reason: 'rotated out' });

      const unknown = await report(generateKey('live'), {}, reporter.key);
      for (const candidate of [foreign.key, spent.key]) {
        const res = await report(candidate, { url: `https://paste.example/${candidate}` }, reporter.key);
        expect({ status: res.status, body: res.body, type: res.headers['content-type'] }).toEqual({
          status: unknown.status,
          body: unknown.body,
          type: unknown.headers['content-type'],
        });
      }
      expect((await app.get(`/v1/keys/${foreign.id}`)).body).toMatchObject({ status: 'active', revoked_reason: null });
      expect(await revocationsOf(foreign.id)).toEqual([]);

      const [event, ...more] = await leakReports(foreign.id);
      expect(more).toEqual([]);
      expect(event).toMatchObject({
        actor_key_id: reporter.id,
        client_id: null,
        target_id: foreign.id,
        changes: {
          reported_by: reporter.id,
          key_client_id: theirs.id,
          key_status: 'active',
          source: 'github secret scanning',
        },
      });
      expect(JSON.stringify(event)).not.toContain(foreign.key);
      // Only root sees it: neither the reporter's client nor the key's finds it in its trail.
      expect(await leakReports(foreign.id, reporter.key)).toEqual([]);
      expect(await leakReports(foreign.id, foreign.key)).toEqual([]);
    });

    it('should be revoked on a report by a key holding admin:leaks:report, granted by root only', async () => {
      const scanner = await makeClient(app);
      const theirs = await makeClient(app);
      // The scanner's key holds that scope alone: it reaches the report route and nothing else.
      const reporter = await makeKey(app, scanner.id, { scopes: ['admin:leaks:report'] });
      const foreign = await makeKey(app, theirs.id);
      expect((await report(foreign.key, {}, reporter.key)).body).toEqual({ matched: true, revoked: true });
      expect((await app.get(`/v1/keys/${foreign.id}`)).body).toMatchObject({
        status: 'revoked',
        revoked_reason: 'leaked',
      });
      expect((await revocationsOf(foreign.id))[0]).toMatchObject({ actor_key_id: reporter.id, client_id: theirs.id });

      // The scanner cannot hand its power on.
      expect(
        (
          await app.post(
            `/v1/clients/${scanner.id}/keys`,
            { environment: 'live', name: 'copy', scopes: ['admin:leaks:report'] },
            { key: reporter.key },
          )
        ).status,
      ).toBe(403);
      expect((await app.get('/v1/keys', { key: reporter.key })).status).toBe(403);
    });

    it("should not be revoked by a tenant holding admin:* (that wildcard runs the tenant's own keys)", async () => {
      const mine = await makeClient(app);
      const theirs = await makeClient(app);
      const reporter = await makeKey(app, mine.id, { scopes: ['admin:*'] });
      const foreign = await makeKey(app, theirs.id);
      expect((await report(foreign.key, {}, reporter.key)).body).toEqual({ matched: false, revoked: false });
      expect((await app.get(`/v1/keys/${foreign.id}`)).body.status).toBe('active');
    });
  });

  it('should keep key-like text out of the trail', async () => {
    const client = await makeClient(app);
    const leaked = await makeKey(app, client.id);
    await report(leaked.key, { source: `scanner saw ${leaked.key}`, url: `https://paste.example/raw?k=${leaked.key}` });
    const [event] = await revocationsOf(leaked.id);
    expect(event.changes.source).toBe('scanner saw sk_live_[redacted]');
    expect(JSON.stringify(event)).not.toContain(leaked.key);
  });

  it('should revoke once when the same key is reported many times at once', async () => {
    const client = await makeClient(app);
    const leaked = await makeKey(app, client.id);
    const answers = await Promise.all(Array.from({ length: 8 }, () => report(leaked.key)));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(answers.filter((a) => a.body.revoked)).toHaveLength(1);
    expect(await revocationsOf(leaked.id)).toHaveLength(1);
  });

  it.each([
    ['no source', { key: 'x' }],
    ['an empty source', { key: 'x', source: '' }],
    ['a url that is no web address', { key: 'x', source: 's', url: 'javascript:alert(1)' }],
    ['an unknown field', { key: 'x', source: 's', key_id: '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11' }],
    ['a key that is not a string', { key: 42, source: 's' }],
  ])('should refuse a body with %s', async (_, body) => {
    const res = await app.post('/v1/keys/leaked', body);
    expect(res.status).toBe(400);
  });

  it('should require admin:keys:write or admin:leaks:report', async () => {
    const client = await makeClient(app);
    const reader = await makeKey(app, client.id, { scopes: ['admin:keys:read'] });
    const victim = await makeKey(app, client.id);
    expect((await report(victim.key, {}, reader.key)).status).toBe(403);
    expect((await app.get(`/v1/keys/${victim.id}`)).body.status).toBe('active');
  });
});
