import { DataSource } from 'typeorm';
import { KeyCache } from '../../src/credentials/key-cache';
import { KeyChangeListener } from '../../src/credentials/key-change-listener';
import { KeyDigest } from '../../src/credentials/key-digest';
import { rawPool } from '../../src/database/raw-pool';
import { expectProblem, makeClient, makeClientWithKey, makeKey } from '../support/factories';
import { TcpProxy } from '../support/tcp-proxy';
import { TestApp, usingPostgres } from '../support/test-app';

const TTL_MS = 3000;

/**
 * The database stops answering. On PostgreSQL the app reaches it through a TCP relay
 * that the test cuts (a real outage: refused connections, dropped sessions, the change
 * listener lost); on the embedded database, its pool's queries fail as `pg`'s do.
 */
describe(`the hot path while the database is down (${usingPostgres ? 'PostgreSQL behind a relay that is cut' : 'embedded pool failing its queries'})`, () => {
  let app: TestApp;
  let proxy: TcpProxy | null = null;
  let restoreEmbedded: (() => void) | null = null;
  let caller: string;
  let client: { id: string };

  async function cut(): Promise<void> {
    if (proxy) {
      await proxy.stop();
      // Let the instance notice: its change listener has lost its connection too.
      const listener = app.app.get(KeyChangeListener);
      const deadline = Date.now() + 2000;
      while (listener.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(listener.connected).toBe(false);
      return;
    }
    const pool = rawPool(app.app.get(DataSource));
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const spy = jest.spyOn(pool, 'query').mockRejectedValue(refused);
    restoreEmbedded = () => spy.mockRestore();
  }

  async function restore(): Promise<void> {
    if (proxy) return proxy.listen();
    restoreEmbedded?.();
  }

  beforeAll(async () => {
    if (usingPostgres) proxy = await TcpProxy.start(new URL(process.env.DATABASE_URL!), 5432);
    app = await TestApp.start({
      CACHE_TTL_MS: TTL_MS,
      ...(proxy ? { DATABASE_URL: proxy.address(process.env.DATABASE_URL!) } : {}),
    });
    caller = (await makeClientWithKey(app, ['admin:introspect'])).key.key;
    client = await makeClient(app);
  });
  afterAll(async () => {
    await restore();
    await app.close();
    await proxy?.stop();
  });

  const introspect = (token: string) => app.post('/v1/introspect', { token }, { key: caller });

  /**
   * Introspects the keys until all of them are in the cache: a change announced while a
   * key was being read (the notification of a revocation, the listener's first connection)
   * keeps that read out of the cache, and a busy machine makes that likelier.
   */
  async function cacheKeys(keys: Array<{ key: string }>): Promise<void> {
    const cache = app.app.get(KeyCache, { strict: false });
    const digest = app.app.get(KeyDigest, { strict: false });
    for (let round = 0; round < 50; round++) {
      for (const { key } of keys) expect((await introspect(key)).status).toBe(200);
      // The caller's own key too: introspection authenticates it first.
      if ([...keys, { key: caller }].every(({ key }) => cache.get(digest.of(key)) !== undefined)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the keys did not stay in the cache');
  }
  const authorize = (token: string) =>
    app.get('/v1/authorize', { key: null, headers: { authorization: `Bearer ${token}` } });

  it('should answer cached keys until their TTL, and 503 for anything it cannot check, never active: true', async () => {
    const cached = await makeKey(app, client.id);
    const uncached = await makeKey(app, client.id);
    const limited = await makeKey(app, client.id, { usage_limit: 100 });
    const revoked = await makeKey(app, client.id);
    await app.post(`/v1/keys/${revoked.id}/revoke`, {});
    // Cache them (and the caller), then lose the database.
    await cacheKeys([cached, limited, revoked]);
    await cut();
    const lostAt = Date.now();

    expect((await introspect(cached.key)).body).toMatchObject({ active: true, sub: cached.id });
    expect((await authorize(cached.key)).status).toBe(204);
    expect((await introspect(revoked.key)).body).toEqual({ active: false, reason: 'revoked' });

    const unknown = await introspect(uncached.key);
    expectProblem(unknown, 503, '/v1/introspect');
    expect(unknown.headers['retry-after']).toBe('1');
    const bare = await authorize(uncached.key);
    expect({ status: bare.status, body: bare.raw, retryAfter: bare.headers['retry-after'] }).toEqual({
      status: 503,
      body: '',
      retryAfter: '1',
    });

    // A usage limit is counted in the database: without it, no use can be taken.
    expectProblem(await introspect(limited.key), 503);
    expect((await authorize(limited.key)).status).toBe(503);
    expect(Date.now() - lostAt).toBeLessThan(TTL_MS);

    // Past the TTL, the cached answer is no longer trusted.
    await new Promise((r) => setTimeout(r, lostAt + TTL_MS + 100 - Date.now()));
    expectProblem(await introspect(cached.key), 503);
    expect((await authorize(cached.key)).status).toBe(503);

    await restore();
    const deadline = Date.now() + 15_000;
    let back = await introspect(uncached.key);
    while (back.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      back = await introspect(uncached.key);
    }
    expect(back.body).toMatchObject({ active: true, sub: uncached.id });
  });
});
