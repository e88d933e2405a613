import { randomInt } from 'node:crypto';
import { generateKey } from '../../src/credentials/key-format';
import { KeyCache } from '../../src/credentials/key-cache';
import { KeyDigest } from '../../src/credentials/key-digest';
import { KeyVerifier } from '../../src/credentials/key-verifier';
import { expectProblem, makeClientWithKey } from '../support/factories';
import { TestApp, usingRedis } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

const LIMIT = 5;

/** The window, the switch and the configuration are unit-tested in src/auth/auth-failure-throttle.spec.ts. */

/** A fresh address per test: with Redis the counts outlive the app, and other runs share them. */
const address = () => `198.51.${randomInt(0, 256)}.${randomInt(1, 255)}`;
const from = (ip: string) => ({ 'x-forwarded-for': ip });
/** Well formed, with a good checksum, never issued: the verifier has to look it up. */
const unknownKey = () => generateKey('live');

describe('throttling failed authentication', () => {
  let introspector: string;
  let plain: string;

  const app = useTestApp({ AUTH_FAILURE_LIMIT: LIMIT, AUTH_FAILURE_WINDOW_SECONDS: 60, TRUSTED_PROXIES: '127.0.0.1' });
  beforeAll(async () => {
    introspector = (await makeClientWithKey(app, ['admin:introspect'])).key.key;
    plain = (await makeClientWithKey(app, [])).key.key;
  });

  describe('on the admin API', () => {
    it('should answer 429 problem+json with Retry-After once an address has sent too many bad keys', async () => {
      const ip = address();
      for (let i = 0; i < LIMIT; i++)
        expectProblem(await app.get('/v1/clients', { key: unknownKey(), headers: from(ip) }), 401);
      for (const key of [
        unknownKey(),
        'sk_live_nope',
        app.rootKey.slice(0, -1) + (app.rootKey.endsWith('A') ? 'B' : 'A'),
      ]) {
        const res = await app.get('/v1/clients', { key, headers: from(ip) });
        expectProblem(res, 429, '/v1/clients');
        expect(res.body.type).toBe('urn:keyhouse:problem:rate-limited');
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(63);
        expect(res.headers['x-content-type-options']).toBe('nosniff');
      }
    });

    it('should still let a good key through from the throttled address, and other addresses alike', async () => {
      const ip = address();
      for (let i = 0; i <= LIMIT; i++) await app.get('/v1/clients', { key: unknownKey(), headers: from(ip) });
      expect((await app.get('/v1/clients', { key: unknownKey(), headers: from(ip) })).status).toBe(429);
      expect((await app.get('/v1/clients', { key: unknownKey(), headers: from(address()) })).status).toBe(401);
      // The good key is in the cache, having just been used from elsewhere: judged as usual.
      expect((await app.get('/v1/clients', { headers: from(address()) })).status).toBe(200);
      expect((await app.get('/v1/clients', { headers: from(ip) })).status).toBe(200);
    });

    it('should count bad keys in X-API-Key too, and not count requests without a key', async () => {
      const ip = address();
      for (let i = 0; i < LIMIT * 3; i++)
        expect((await app.get('/v1/keys', { key: null, headers: from(ip) })).status).toBe(401);
      for (let i = 0; i < LIMIT; i++)
        expect(
          (await app.get('/v1/keys', { key: null, headers: { ...from(ip), 'x-api-key': unknownKey() } })).status,
        ).toBe(401);
      expect(
        (await app.get('/v1/keys', { key: null, headers: { ...from(ip), 'x-api-key': unknownKey() } })).status,
      ).toBe(429);
    });

    it('should not count a good key that lacks the scope: that is a 403, not a failed authentication', async () => {
      const ip = address();
      for (let i = 0; i < LIMIT * 2; i++)
        expectProblem(await app.get('/v1/clients', { key: plain, headers: from(ip) }), 403);
      expect((await app.get('/v1/clients', { key: unknownKey(), headers: from(ip) })).status).toBe(401);
    });

    it('should ignore X-Forwarded-For from a peer that is not a trusted proxy', async () => {
      const untrusting = await TestApp.start({ AUTH_FAILURE_LIMIT: LIMIT, AUTH_FAILURE_WINDOW_SECONDS: 60 });
      try {
        // Every request comes from 127.0.0.1 whatever it claims: a new claimed address each time does not escape.
        const statuses: number[] = [];
        for (let i = 0; i <= LIMIT; i++)
          statuses.push((await untrusting.get('/v1/clients', { key: unknownKey(), headers: from(address()) })).status);
        expect(statuses.slice(-1)).toEqual([429]);
      } finally {
        await untrusting.close();
      }
    });
  });

  describe('on introspection', () => {
    it('should throttle a bad caller key, not tokens that are not good', async () => {
      const ip = address();
      for (let i = 0; i < LIMIT * 3; i++) {
        const res = await app.post('/v1/introspect', { token: unknownKey() }, { key: introspector, headers: from(ip) });
        expect(res.body).toEqual({ active: false, reason: 'not_found' });
      }
      for (let i = 0; i < LIMIT; i++)
        expectProblem(
          await app.post('/v1/introspect', { token: introspector }, { key: unknownKey(), headers: from(ip) }),
          401,
        );
      const throttled = await app.post(
        '/v1/introspect',
        { token: introspector },
        { key: unknownKey(), headers: from(ip) },
      );
      expectProblem(throttled, 429, '/v1/introspect');
      expect(Number(throttled.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // The good caller from the same address is answered as before.
      expect(
        (await app.post('/v1/introspect', { token: introspector }, { key: introspector, headers: from(ip) })).body,
      ).toMatchObject({ active: true });
    });

    it('should count forward auth keys that are not good (401s), and let good keys through', async () => {
      const ip = address();
      const { key } = await makeClientWithKey(app, []);
      for (let i = 0; i < LIMIT; i++)
        expect((await app.get('/v1/authorize', { key: unknownKey(), headers: from(ip) })).status).toBe(401);
      const throttled = await app.get('/v1/authorize', { key: 'sk_test_malformed', headers: from(ip) });
      expect(throttled.status).toBe(429);
      expect(throttled.raw).toBe('');
      expect(Number(throttled.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(throttled.headers['x-ratelimit-limit']).toBeUndefined();
      // A good key this instance has not looked up waits like the rest: its lookup would be the flood's query.
      expect((await app.get('/v1/authorize', { key: key.key, headers: from(ip) })).status).toBe(429);
      // Once in the cache (used from elsewhere), it passes from the throttled address.
      expect((await app.get('/v1/authorize', { key: key.key, headers: from(address()) })).status).toBe(204);
      expect((await app.get('/v1/authorize', { key: key.key, headers: from(ip) })).status).toBe(204);
      // Its cache entry ends (TTL, a change): a key this instance has found before is looked up
      // again, so a good key in use keeps passing from an address that also sends bad ones.
      app.app.get(KeyCache, { strict: false }).invalidateDigest(app.app.get(KeyDigest, { strict: false }).of(key.key));
      expect((await app.get('/v1/authorize', { key: key.key, headers: from(ip) })).status).toBe(204);
      expect((await app.get('/v1/authorize', { key: unknownKey(), headers: from(ip) })).status).toBe(429);
      // A good key refused for its scope is a 403, as before.
      expect(
        (
          await app.get('/v1/authorize', {
            key: key.key,
            headers: { ...from(ip), 'x-required-scopes': 'admin:keys:read' },
          })
        ).status,
      ).toBe(403);
      // No key at all is not a failure.
      expect((await app.get('/v1/authorize', { key: null, headers: from(address()) })).status).toBe(401);
    });

    it('should refuse an address over its limit before looking its keys up: no query per call', async () => {
      const ip = address();
      for (let i = 0; i <= LIMIT; i++) await app.get('/v1/authorize', { key: unknownKey(), headers: from(ip) });
      const verifier = app.app.get(KeyVerifier, { strict: false });
      // Every lookup that reaches the database goes through the verifier's one query.
      const queries = jest.spyOn(verifier as unknown as { query: () => unknown }, 'query');
      try {
        for (let i = 0; i < 10; i++) {
          expect((await app.get('/v1/authorize', { key: unknownKey(), headers: from(ip) })).status).toBe(429);
          expect((await app.get('/v1/keys', { key: unknownKey(), headers: from(ip) })).status).toBe(429);
          // On the direct path and the routes alike (a query string sends it to the routes).
          expect(
            (await app.post('/v1/introspect', { token: introspector }, { key: unknownKey(), headers: from(ip) }))
              .status,
          ).toBe(429);
          expect(
            (
              await app.post(
                '/v1/introspect?x=1',
                { token: introspector },
                { key: unknownKey(), headers: from(ip), skipOpenApiValidation: 'a query string, to reach the route' },
              )
            ).status,
          ).toBe(429);
        }
        expect(queries).not.toHaveBeenCalled();
        // A key in the cache is still judged: a good one passes from the throttled address.
        expect(
          (await app.post('/v1/introspect', { token: introspector }, { key: introspector, headers: from(ip) })).body,
        ).toMatchObject({ active: true });
        expect(queries).not.toHaveBeenCalled();
      } finally {
        queries.mockRestore();
      }
    });

    it('should share one count between the admin API and the hot path', async () => {
      const ip = address();
      for (let i = 0; i < LIMIT; i++) await app.get('/v1/authorize', { key: unknownKey(), headers: from(ip) });
      expect((await app.get('/v1/keys', { key: unknownKey(), headers: from(ip) })).status).toBe(429);
      expect((await app.post('/v1/introspect', { token: 'x' }, { key: unknownKey(), headers: from(ip) })).status).toBe(
        429,
      );
    });

    it('should count failures and throttles in metrics', async () => {
      const res = await app.get('/metrics', { key: null, listener: 'management' });
      expect(res.raw).toMatch(/keyhouse_auth_failures_total\{endpoint="admin",result="refused"\} [1-9]/);
      expect(res.raw).toMatch(/keyhouse_auth_failures_total\{endpoint="authorize",result="throttled"\} [1-9]/);
    });
  });

  describe('with Redis unreachable', () => {
    it('should count in memory instead', async () => {
      const cut = await TestApp.start({
        AUTH_FAILURE_LIMIT: 2,
        REDIS_URL: 'redis://127.0.0.1:1',
        REDIS_COMMAND_TIMEOUT_MS: 50,
        TRUSTED_PROXIES: '127.0.0.1',
      });
      try {
        const ip = address();
        for (let i = 0; i < 2; i++)
          expect((await cut.get('/v1/scopes', { key: unknownKey(), headers: from(ip) })).status).toBe(401);
        expect((await cut.get('/v1/scopes', { key: unknownKey(), headers: from(ip) })).status).toBe(429);
        // The root key, once in the cache, passes from the throttled address.
        expect((await cut.get('/v1/scopes', { headers: from(address()) })).status).toBe(200);
        expect((await cut.get('/v1/scopes', { headers: from(ip) })).status).toBe(200);
      } finally {
        await cut.close();
        // ioredis keeps a 2-second timer after disconnecting from a server it never reached.
        await new Promise((r) => setTimeout(r, 2100));
      }
    });
  });

  (usingRedis ? describe : describe.skip)('with Redis, on two instances', () => {
    it('should share one count per address between them', async () => {
      const other = await TestApp.start({
        AUTH_FAILURE_LIMIT: LIMIT,
        AUTH_FAILURE_WINDOW_SECONDS: 60,
        TRUSTED_PROXIES: '127.0.0.1',
      });
      try {
        const ip = address();
        for (let i = 0; i < LIMIT; i++)
          expect(
            (await (i % 2 ? app : other).get('/v1/clients', { key: unknownKey(), headers: from(ip) })).status,
          ).toBe(401);
        expect((await other.get('/v1/clients', { key: unknownKey(), headers: from(ip) })).status).toBe(429);
        // The root key, once in this instance's cache, passes from the throttled address.
        expect((await other.get('/v1/clients', { headers: from(address()) })).status).toBe(200);
        expect((await other.get('/v1/clients', { headers: from(ip) })).status).toBe(200);
      } finally {
        await other.close();
      }
    });
  });
});
