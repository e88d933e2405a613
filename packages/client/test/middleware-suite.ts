import { makeClientWithKey, makeKey, makeScope, unique } from '../../../test/support/factories';
import { TestApp } from '../../../test/support/test-app';
import { createVerifier, type Verifier } from '@keyhouse/client';

/** A consuming service built with one framework, listening on a port. */
export interface ConsumingApp {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the framework's app with the verifier. `GET /orders` needs `<read>`, `POST /orders`
 * needs `<write>`; each answers `{ identity, authorization, apiKey }`: the identity the
 * middleware attached and the key headers the handler still sees.
 */
export type StartApp = (verifier: Verifier, scopes: { read: string; write: string }) => Promise<ConsumingApp>;

/** How long a cached answer lives here while the stream is up: only the stream can drop it sooner. */
const LONG_TTL_MS = 10 * 60_000;
/** While the stream is down. */
const FALLBACK_TTL_MS = 300;

/**
 * The proof for one middleware: a real Keyhouse (embedded, listening on a port), a real app of
 * the framework, and the key cases of issue 18.
 */
export function middlewareSuite(framework: string, startApp: StartApp): void {
  describe(`${framework} middleware against a running Keyhouse`, () => {
    let keyhouse: TestApp | undefined;
    let verifier: Verifier;
    let app: ConsumingApp;
    let scopes: { read: string; write: string };
    let clientId: string;
    let good: { id: string; key: string };
    const delays: number[] = [];

    beforeAll(async () => {
      keyhouse = await TestApp.start({ CACHE_TTL_MS: 60_000 });
      await keyhouse.app.listen({ port: 0, host: '127.0.0.1' });
      const url = await keyhouse.app.getUrl();
      const stem = unique('orders');
      scopes = { read: `${stem}:read`, write: `${stem}:write` };
      await makeScope(keyhouse, scopes.read);
      await makeScope(keyhouse, scopes.write);
      const service = await makeClientWithKey(keyhouse, ['admin:introspect']);
      const caller = await makeClientWithKey(keyhouse, [scopes.read], { metadata: { team: 'checkout' } });
      clientId = caller.client.id;
      good = caller.key;
      verifier = createVerifier({
        url,
        key: service.key.key,
        cacheTtlMs: LONG_TTL_MS,
        fallbackTtlMs: FALLBACK_TTL_MS,
        reconnectMs: 50,
        timeoutMs: 1000,
      });
      app = await startApp(verifier, scopes);
      await until(() => verifier.status().stream === 'up', 10_000, 'the change stream is up');
    });
    afterAll(async () => {
      process.stdout.write(`${framework}: revoked key refused ${delays.join(', ')} ms after the revoke answered\n`);
      await app?.close();
      await verifier?.close();
      await keyhouse?.close();
    });

    const get = (headers: Record<string, string> = {}, method = 'GET') =>
      fetch(`${app.url}/orders`, { method, headers }).then(async (res) => ({
        status: res.status,
        headers: res.headers,
        body: (await res.json().catch(() => null)) as any,
      }));

    it('should let a good key through, attach its identity and hide the key from the handler', async () => {
      for (const headers of <Record<string, string>[]>[
        { authorization: `Bearer ${good.key}` },
        { 'x-api-key': good.key },
        { authorization: `Basic ${Buffer.from(`any:${good.key}`).toString('base64')}` },
      ]) {
        const res = await get(headers);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({
          identity: expect.objectContaining({
            clientId,
            keyId: good.id,
            scopes: [scopes.read],
            environment: 'live',
            metadata: { team: 'checkout' },
          }),
          authorization: null,
          apiKey: null,
        });
      }
    });

    it('should answer 403 insufficient_scope for a good key without the route scope', async () => {
      const res = await get({ authorization: `Bearer ${good.key}` }, 'POST');
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toBe(`Bearer error="insufficient_scope", scope="${scopes.write}"`);
      expect(res.body).toMatchObject({ status: 403, reason: 'insufficient_scope' });
    });

    it("should answer 401 invalid_token for a typo'd key, decided without Keyhouse", async () => {
      const misses = verifier.status().misses;
      const at = 30;
      const typo = good.key.slice(0, at) + (good.key[at] === 'x' ? 'y' : 'x') + good.key.slice(at + 1);
      const res = await get({ authorization: `Bearer ${typo}` });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(res.body).toMatchObject({ reason: 'malformed' });
      expect(verifier.status().misses).toBe(misses);
    });

    it('should answer 401 with a bare Bearer challenge when no key is sent', async () => {
      const res = await get();
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    });

    it('should refuse a revoked key it has cached as soon as the change stream says so', async () => {
      const before = verifier.status().lastEventId;
      const key = await makeKey(keyhouse!, clientId, { scopes: [scopes.read] });
      // The key's creation is a change too: an answer asked for before it arrives is not kept.
      await until(() => verifier.status().lastEventId !== before, 5000, 'the creation event');
      const headers = { authorization: `Bearer ${key.key}` };
      expect((await get(headers)).status).toBe(200);
      // Answered from the verifier's own cache (a change that lands between two calls drops the entry: ask again).
      let lastEvent = verifier.status().lastEventId;
      await until(
        async () => {
          const hits = verifier.status().hits;
          lastEvent = verifier.status().lastEventId;
          expect((await get(headers)).status).toBe(200);
          return verifier.status().hits === hits + 1;
        },
        5000,
        'an answer from the cache',
      );
      expect(verifier.status().stream).toBe('up');

      const revoke = keyhouse!.post(`/v1/keys/${key.id}/revoke`, { reason: 'client package test' });
      expect((await revoke).status).toBe(200);
      const answeredAt = performance.now();
      let res = await get(headers);
      while (res.status === 200 && performance.now() - answeredAt < 5000) res = await get(headers);
      // Counted from the revoke's answer, when its caller knows the key is revoked.
      const delay = Math.round(performance.now() - answeredAt);
      delays.push(delay);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ reason: 'revoked' });
      // The cached answer lives ten minutes: only the change stream can have dropped it.
      expect(verifier.status().lastEventId).not.toBe(lastEvent);
      // Issue 18's target is 100 ms (bench/ measures it on a quiet machine); this bound holds on a loaded one too.
      expect(delay).toBeLessThan(1000);
    });

    it('should answer 429 with Retry-After once a key is over its rate limit', async () => {
      const key = await makeKey(keyhouse!, clientId, {
        scopes: [scopes.read],
        rate_limit: { limit: 2, window_seconds: 60 },
      });
      const headers = { authorization: `Bearer ${key.key}` };
      expect((await get(headers)).status).toBe(200);
      expect((await get(headers)).status).toBe(200);
      const res = await get(headers);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(120); // a sliding window: at most two windows
      expect(res.body).toMatchObject({ reason: 'rate_limited' });
    });

    it('should answer 503, never a pass, once Keyhouse is stopped', async () => {
      const unseen = await makeKey(keyhouse!, clientId, { scopes: [scopes.read] });
      expect((await get({ authorization: `Bearer ${good.key}` })).status).toBe(200);
      await keyhouse!.close();
      keyhouse = undefined;
      const res = await get({ authorization: `Bearer ${unseen.key}` });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      await until(() => verifier.status().stream !== 'up', 5000, 'the verifier sees the stream down');
      // A key it had cached is served at most FALLBACK_TTL_MS more, then refused too.
      await until(
        async () => (await get({ authorization: `Bearer ${good.key}` })).status === 503,
        5000,
        'the cached key is refused once the fallback TTL has passed',
      );
      expect((await get({ authorization: `Bearer ${unseen.key}` })).status).toBe(503);
    });
  });
}

export async function until(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
