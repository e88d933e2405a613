import { DataSource } from 'typeorm';
import { generateKey } from '../../src/credentials/key-format';
import { rawPool } from '../../src/database/raw-pool';
import { expectProblem, makeClient, makeClientWithKey, makeKey, makeScope, unique } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('POST /v1/introspect', () => {
  let db: DataSource;
  /** A service's key: a client of its own holding only admin:introspect. */
  let caller: string;
  let client: { id: string };
  let read: string;
  let write: string;
  let stem: string;

  const introspect = (
    body: Record<string, unknown> | string,
    call: { key?: string | null; form?: boolean; headers?: Record<string, string> } = {},
  ) =>
    call.form
      ? app.call('POST', '/v1/introspect', {
          key: call.key === undefined ? caller : call.key,
          form: body as Record<string, string>,
          headers: call.headers,
        })
      : app.post('/v1/introspect', body, { key: call.key === undefined ? caller : call.key, headers: call.headers });

  const reasonOf = async (body: Record<string, unknown>) => {
    const res = await introspect(body);
    expect(res.status).toBe(200);
    return res.body.active ? 'valid' : res.body.reason;
  };

  const app = useTestApp();
  beforeAll(async () => {
    db = app.app.get(DataSource);
    stem = unique('svc').replace('-', '');
    read = (await makeScope(app, `${stem}:read`)).name;
    write = (await makeScope(app, `${stem}:write`)).name;
    await makeScope(app, `${stem}:*`);
    await makeScope(app, `${stem}:items:write`);
    caller = (await makeClientWithKey(app, ['admin:introspect'])).key.key;
    client = await makeClient(app);
  });

  describe('a good key', () => {
    it('should answer RFC 7662 fields and the extensions, for a JSON body', async () => {
      const key = await makeKey(app, client.id, {
        name: 'checkout',
        scopes: [read, write],
        metadata: { team: 'payments' },
      });
      const res = await introspect({ token: key.key });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        active: true,
        scope: `${read} ${write}`,
        client_id: client.id,
        sub: key.id,
        token_type: 'api_key',
        iat: Math.floor(Date.parse(key.created_at) / 1000),
        environment: 'live',
        key_name: 'checkout',
        metadata: { team: 'payments' },
      });
      expect(res.body.sub).toMatch(UUID);
    });

    it('should answer the same to a form-encoded body', async () => {
      const key = await makeKey(app, client.id, { scopes: [read], ttl_seconds: 3600 });
      const json = await introspect({ token: key.key, scope: read, environment: 'live' });
      const form = await introspect({ token: key.key, scope: read, environment: 'live' }, { form: true });
      expect(form.status).toBe(200);
      expect(form.body).toEqual(json.body);
      expect(form.body).toMatchObject({ active: true, exp: Math.floor(Date.parse(key.expires_at) / 1000) });
    });

    it('should accept and ignore token_type_hint and the client authentication fields OAuth clients add', async () => {
      const key = await makeKey(app, client.id);
      const body = { token: key.key, token_type_hint: 'access_token', client_id: 'gateway', client_secret: 'not-used' };
      expect((await introspect(body)).body.active).toBe(true);
      expect((await introspect(body, { form: true })).body.active).toBe(true);
    });

    it('should report the end of the grace period as exp while a rotated key is in grace', async () => {
      const old = await makeKey(app, client.id);
      const rotated = await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 3600 });
      expect(rotated.status).toBe(201);
      const view = await app.get(`/v1/keys/${old.id}`);
      const res = await introspect({ token: old.key });
      expect(res.body).toMatchObject({
        active: true,
        sub: old.id,
        exp: Math.floor(Date.parse(view.body.grace_ends_at) / 1000),
      });
      expect((await introspect({ token: rotated.body.key })).body).toMatchObject({
        active: true,
        sub: rotated.body.id,
      });
    });

    it('should count a wildcard scope of the key as covering what is asked', async () => {
      const wide = await makeKey(app, client.id, { scopes: [`${stem}:*`] });
      expect(await reasonOf({ token: wide.key, scope: `${read} ${stem}:items:write` })).toBe('valid');
      expect(await reasonOf({ token: wide.key, scope: `${stem}x:read` })).toBe('insufficient_scope');
      const narrow = await makeKey(app, client.id, { scopes: [read] });
      expect(await reasonOf({ token: narrow.key, scope: read })).toBe('valid');
      expect(await reasonOf({ token: narrow.key, scope: `${stem}:*` })).toBe('insufficient_scope');
      expect(await reasonOf({ token: narrow.key, scope: `${read} ${write}` })).toBe('insufficient_scope');
    });

    it('should check client_ip against IPv4 and IPv6 allowlists', async () => {
      const key = await makeKey(app, client.id, { ip_allowlist: ['2001:db8::/32', '10.0.0.0/8'] });
      expect(await reasonOf({ token: key.key, client_ip: '2001:db8:1::5' })).toBe('valid');
      expect(await reasonOf({ token: key.key, client_ip: '2001:DB8::1' })).toBe('valid');
      expect(await reasonOf({ token: key.key, client_ip: '10.200.3.4' })).toBe('valid');
      expect(await reasonOf({ token: key.key, client_ip: '::ffff:10.1.2.3' })).toBe('valid');
      expect(await reasonOf({ token: key.key, client_ip: '2001:db9::1' })).toBe('ip_not_allowed');
      expect(await reasonOf({ token: key.key, client_ip: '11.0.0.1' })).toBe('ip_not_allowed');
      // Without an address there is nothing to allow.
      expect(await reasonOf({ token: key.key })).toBe('ip_not_allowed');
      const single = await makeKey(app, client.id, { ip_allowlist: ['2001:db8::7'] });
      expect(await reasonOf({ token: single.key, client_ip: '2001:db8::7' })).toBe('valid');
      expect(await reasonOf({ token: single.key, client_ip: '2001:db8::8' })).toBe('ip_not_allowed');
    });
  });

  describe('every reason code', () => {
    it('malformed: wrong prefix, length, alphabet or checksum, without a database query', async () => {
      const good = generateKey('live');
      const flipped = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
      await introspect({ token: good }); // the caller's key is now cached
      const queries = jest.spyOn(rawPool(db), 'query');
      try {
        for (const token of [
          '',
          'sk_live_short',
          good.replace('sk_live_', 'sk_prod_'),
          `${good}x`,
          flipped,
          good.replace(/.$/, '-'),
        ]) {
          expect(await introspect({ token })).toMatchObject({
            status: 200,
            body: { active: false, reason: 'malformed' },
          });
        }
        expect((await introspect({ token: 'x' })).body).toEqual({ active: false, reason: 'malformed' });
        expect(queries).not.toHaveBeenCalled();
      } finally {
        queries.mockRestore();
      }
    });

    it('not_found: a well-formed key nobody issued', async () => {
      expect((await introspect({ token: generateKey('live') })).body).toEqual({ active: false, reason: 'not_found' });
    });

    it('revoked', async () => {
      const key = await makeKey(app, client.id);
      expect(await reasonOf({ token: key.key })).toBe('valid');
      expect((await app.post(`/v1/keys/${key.id}/revoke`, { reason: 'test' })).status).toBe(200);
      expect((await introspect({ token: key.key })).body).toEqual({ active: false, reason: 'revoked' });
    });

    it('expired: past its expiry, or past the end of its rotation grace', async () => {
      const key = await makeKey(app, client.id);
      expect(await reasonOf({ token: key.key })).toBe('valid');
      await db.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [key.id]);
      await expectSoon(() => reasonOf({ token: key.key }), 'expired');

      const old = await makeKey(app, client.id);
      expect(await reasonOf({ token: old.key })).toBe('valid');
      expect((await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 0 })).status).toBe(201);
      expect((await introspect({ token: old.key })).body).toEqual({ active: false, reason: 'expired' });
    });

    it('client_suspended, and good again once the client is reactivated', async () => {
      const own = await makeClient(app);
      const key = await makeKey(app, own.id);
      expect(await reasonOf({ token: key.key })).toBe('valid');
      expect((await app.patch(`/v1/clients/${own.id}`, { status: 'suspended' })).status).toBe(200);
      expect((await introspect({ token: key.key })).body).toEqual({ active: false, reason: 'client_suspended' });
      expect((await app.patch(`/v1/clients/${own.id}`, { status: 'active' })).status).toBe(200);
      expect(await reasonOf({ token: key.key })).toBe('valid');
    });

    it('environment_mismatch', async () => {
      const key = await makeKey(app, client.id, { environment: 'test' });
      expect(await reasonOf({ token: key.key, environment: 'test' })).toBe('valid');
      expect((await introspect({ token: key.key, environment: 'live' })).body).toEqual({
        active: false,
        reason: 'environment_mismatch',
      });
    });

    it('insufficient_scope', async () => {
      const key = await makeKey(app, client.id, { scopes: [read] });
      expect((await introspect({ token: key.key, scope: write })).body).toEqual({
        active: false,
        reason: 'insufficient_scope',
      });
    });

    it('ip_not_allowed', async () => {
      const key = await makeKey(app, client.id, { ip_allowlist: ['203.0.113.0/24'] });
      expect((await introspect({ token: key.key, client_ip: '198.51.100.1' })).body).toEqual({
        active: false,
        reason: 'ip_not_allowed',
      });
    });

    it('usage_exceeded: once the uses are spent, and the remaining count says so', async () => {
      const key = await makeKey(app, client.id, { usage_limit: 2 });
      expect(await reasonOf({ token: key.key })).toBe('valid');
      expect(await reasonOf({ token: key.key })).toBe('valid');
      expect((await introspect({ token: key.key })).body).toEqual({ active: false, reason: 'usage_exceeded' });
      expect((await introspect({ token: key.key })).body).toEqual({ active: false, reason: 'usage_exceeded' });
      expect((await app.get(`/v1/keys/${key.id}`)).body).toMatchObject({ usage_limit: 2, remaining: 0 });
      // A new limit gives new uses, on every instance (the change drops the cached record).
      expect((await app.patch(`/v1/keys/${key.id}`, { usage_limit: 1 })).status).toBe(200);
      expect(await reasonOf({ token: key.key })).toBe('valid');
      expect(await reasonOf({ token: key.key })).toBe('usage_exceeded');
    });

    it('rate_limited, with the rate limit', async () => {
      const key = await makeKey(app, client.id, { rate_limit: { limit: 2, window_seconds: 60 } });
      const first = await introspect({ token: key.key });
      const now = Math.floor(Date.now() / 1000);
      expect(first.body).toMatchObject({ active: true, rate_limit: { limit: 2, remaining: 1 } });
      expect(first.body.rate_limit.reset).toBeGreaterThanOrEqual(now + 60);
      expect(first.body.rate_limit.reset).toBeLessThanOrEqual(now + 60 + 5);
      expect((await introspect({ token: key.key })).body).toMatchObject({
        active: true,
        rate_limit: { limit: 2, remaining: 0 },
      });
      const limited = await introspect({ token: key.key });
      expect(limited.body).toEqual({
        active: false,
        reason: 'rate_limited',
        rate_limit: { limit: 2, remaining: 0, reset: expect.any(Number) },
      });
      expect(limited.body.rate_limit.reset).toBeGreaterThan(now);
    });
  });

  describe('the usage limit under concurrency', () => {
    it('should let exactly 100 of 1,000 concurrent calls through with 100 uses left', async () => {
      const key = await makeKey(app, client.id, { usage_limit: 100 });
      const answers = await Promise.all(Array.from({ length: 1000 }, () => introspect({ token: key.key })));
      const reasons = answers.map((a) =>
        a.status === 200 ? (a.body.active ? 'valid' : a.body.reason) : `status ${a.status}`,
      );
      const tally = reasons.reduce<Record<string, number>>((t, r) => ({ ...t, [r]: (t[r] ?? 0) + 1 }), {});
      expect(tally).toEqual({ valid: 100, usage_exceeded: 900 });
      expect((await app.get(`/v1/keys/${key.id}`)).body.remaining).toBe(0);
    });
  });

  describe('the caller', () => {
    it('should get a 401 problem without a key, with a bad key, or with a key that is not good', async () => {
      const key = await makeKey(app, client.id);
      const revokedCaller = await makeClientWithKey(app, ['admin:introspect']);
      await app.post(`/v1/keys/${revokedCaller.key.id}/revoke`, {});
      for (const callerKey of [null, 'sk_live_nonsense', generateKey('live'), revokedCaller.key.key]) {
        const res = await introspect({ token: key.key }, { key: callerKey });
        expectProblem(res, 401, '/v1/introspect');
        expect(res.raw).not.toContain(key.key);
      }
      expectProblem(await introspect({ token: key.key }, { key: null, headers: { 'x-api-key': 'sk_test_nope' } }), 401);
    });

    it('should get a 401 before its body is looked at', async () => {
      expectProblem(await introspect({ nothing: true }, { key: null }), 401);
    });

    it('should get a 403 problem naming admin:introspect when its key lacks it', async () => {
      const key = await makeKey(app, client.id);
      const reader = await makeClientWithKey(app, ['admin:keys:read']);
      const res = await introspect({ token: key.key }, { key: reader.key.key });
      expectProblem(res, 403, '/v1/introspect');
      expect(res.body.required_scopes).toEqual(['admin:introspect']);
    });

    it('should be accepted with X-API-Key, and with admin:* (a root key)', async () => {
      const key = await makeKey(app, client.id);
      expect((await introspect({ token: key.key }, { key: null, headers: { 'x-api-key': caller } })).body.active).toBe(
        true,
      );
      expect((await introspect({ token: key.key }, { key: app.rootKey })).body.active).toBe(true);
    });

    it('should be accepted with HTTP Basic, as RFC 7662 clients send their credentials', async () => {
      const key = await makeKey(app, client.id);
      const basic = (pair: string) => ({ authorization: `Basic ${Buffer.from(pair).toString('base64')}` });
      for (const pair of [`orders-api:${caller}`, `${caller}:`]) {
        const res = await introspect({ token: key.key }, { key: null, form: true, headers: basic(pair) });
        expect(res.body.active).toBe(true);
      }
      expectProblem(
        await introspect(
          { token: key.key },
          { key: null, form: true, headers: basic(`orders-api:${generateKey('live')}`) },
        ),
        401,
      );
    });

    it('should be accepted with client_secret_basic form-urlencoded before Base64, as RFC 6749 §2.3.1 has clients send it', async () => {
      const key = await makeKey(app, client.id);
      // Appendix B's encoding as oauth4webapi applies it: all but letters and digits percent-encoded, so sk_live_ is sk%5Flive%5F.
      const formEncoded = (text: string) =>
        encodeURIComponent(text).replace(/[-_.!~*'()]|%20/g, (c) =>
          c === '%20' ? '+' : `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
        );
      const pair = `${formEncoded('orders-api')}:${formEncoded(caller)}`;
      expect(pair).toContain('%5F');
      const res = await introspect(
        { token: key.key },
        { key: null, form: true, headers: { authorization: `Basic ${Buffer.from(pair).toString('base64')}` } },
      );
      expect(res.body.active).toBe(true);
    });
  });

  describe('a call that is not well formed', () => {
    it.each([
      ['no token', {}, '#/token'],
      ['a token that is not a string', { token: 42 }, '#/token'],
      ['a null token', { token: null }, '#/token'],
      ['an unknown environment', { token: 'sk_live_x', environment: 'prod' }, '#/environment'],
      ['a scope list that is not a string', { token: 'sk_live_x', scope: ['a:b'] }, '#/scope'],
      ['a client_ip that is no address', { token: 'sk_live_x', client_ip: '10.0.0.300' }, '#/client_ip'],
      ['a client_ip in IPv4 shorthand', { token: 'sk_live_x', client_ip: '10.1' }, '#/client_ip'],
      ['a client_ip that is a range', { token: 'sk_live_x', client_ip: '10.0.0.0/8' }, '#/client_ip'],
    ])('should be a 400 problem for %s', async (_, body, pointer) => {
      const res = await introspect(body);
      expectProblem(res, 400, '/v1/introspect');
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    });

    it('should be a 400 for a repeated form field and for a body that is not JSON', async () => {
      const res = await app.call('POST', '/v1/introspect', {
        key: caller,
        body: 'token=a&token=b',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expectProblem(res, 400);
      expectProblem(
        await app.call('POST', '/v1/introspect', {
          key: caller,
          body: '{"token":',
          headers: { 'content-type': 'application/json' },
        }),
        400,
      );
    });

    it.each([
      ['environment twice in a form', 'form', 'environment=test&environment=live', '#/environment'],
      ['environment twice in a form, the same', 'form', 'environment=live&environment=live', '#/environment'],
      ['scope twice in a form', 'form', 'scope=a:b&scope=c:d', '#/scope'],
      ['environment as a JSON array', 'json', { environment: ['test', 'live'] }, '#/environment'],
      ['scope as a JSON array', 'json', { scope: ['a:b', 'c:d'] }, '#/scope'],
    ])('should be a 400 problem naming the field for %s, never one value picked', async (_, kind, extra, pointer) => {
      const key = await makeKey(app, client.id, { environment: 'live' });
      const form = kind === 'form';
      const body = form
        ? `token=${key.key}&${extra as string}`
        : JSON.stringify({ token: key.key, ...(extra as object) });
      const res = await app.call('POST', '/v1/introspect', {
        key: caller,
        body,
        headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
      });
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    });

    it('should be a 415 for a body that is neither JSON nor a form', async () => {
      const res = await app.call('POST', '/v1/introspect', {
        key: caller,
        body: 'token=x',
        headers: { 'content-type': 'text/plain' },
      });
      expectProblem(res, 415);
    });
  });
});

/** Polls until `read` answers `expected` (a change reaches the cache through a notification). */
async function expectSoon(read: () => Promise<unknown>, expected: unknown, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    last = await read();
    if (last === expected) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(last).toBe(expected);
}
