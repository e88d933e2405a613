import { UsageRecorder } from '../../src/usage/usage-recorder';
import { makeClient, makeClientWithKey, makeKey, makeScope } from '../support/factories';
import { Reply, TestApp, usingPostgres, usingRedis } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

/**
 * Three instances on one PostgreSQL and one Redis, as behind a load balancer: keys are
 * issued, introspected, rotated and revoked through whichever instance, all at once, and
 * the end state must be the same seen from each. Their caches keep keys for a minute, so
 * only the change notifications can make a change made elsewhere visible in time.
 */
const describeShared = usingPostgres && usingRedis ? describe : describe.skip;

type Fate = 'kept' | 'revoked' | 'rotated' | 'successor revoked';

describeShared(
  `three instances on one PostgreSQL and Redis${usingPostgres && usingRedis ? '' : ' (skipped: needs DATABASE_URL and REDIS_URL)'}`,
  () => {
    let caller: string;
    let client: { id: string };
    let scope: string;
    /** Every introspection answer the test received, by key id and outcome. */
    const tally = new Map<string, Record<string, number>>();

    const options = {
      CACHE_TTL_MS: 60_000,
      CACHE_NEGATIVE_TTL_MS: 60_000,
      USAGE_FLUSH_INTERVAL_MS: 3_600_000,
      DB_POOL_SIZE: 5,
    };
    const apps = [useTestApp(options), useTestApp(options), useTestApp(options)];
    beforeAll(async () => {
      caller = (await makeClientWithKey(apps[0], ['admin:introspect'])).key.key;
      client = await makeClient(apps[1]);
      scope = (await makeScope(apps[2])).name;
    });

    const pick = (i: number) => apps[i % 3];
    async function introspect(app: TestApp, id: string, token: string): Promise<string> {
      const res: Reply = await app.post('/v1/introspect', { token, scope }, { key: caller });
      expect(res.status).toBe(200);
      const outcome = res.body.active ? 'valid' : res.body.reason;
      const counts = tally.get(id) ?? {};
      counts[outcome] = (counts[outcome] ?? 0) + 1;
      tally.set(id, counts);
      return outcome;
    }
    /** Asks each instance about the key until it answers `expected`, for at most the notification delay. */
    async function expectEverywhere(id: string, token: string, expected: string): Promise<void> {
      for (const app of apps) {
        const deadline = Date.now() + 2000;
        let outcome = await introspect(app, id, token);
        while (outcome !== expected && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 10));
          outcome = await introspect(app, id, token);
        }
        expect({ id, outcome }).toEqual({ id, outcome: expected });
      }
    }

    it('should agree on every key after a mixed workload spread over the three, count every call, and keep one audit chain', async () => {
      const lives = Array.from({ length: 48 }, (_, n) => n);
      const ended: Array<{ id: string; token: string; fate: Fate; successor?: { id: string; token: string } }> = [];
      const startedAt = Date.now();
      await Promise.all(
        lives.map(async (n) => {
          const issued = await makeKey(pick(n), client.id, { scopes: [scope] });
          // Used through every instance (each now caches it for a minute).
          for (let i = 0; i < 6; i++) expect(await introspect(pick(n + i), issued.id, issued.key)).toBe('valid');
          const fate = (['kept', 'revoked', 'rotated', 'successor revoked'] as const)[n % 4];
          if (fate === 'revoked') {
            expect((await pick(n + 1).post(`/v1/keys/${issued.id}/revoke`, { reason: 'workload' })).status).toBe(200);
            ended.push({ id: issued.id, token: issued.key, fate });
          } else if (fate === 'rotated' || fate === 'successor revoked') {
            const successor = await pick(n + 2).post(`/v1/keys/${issued.id}/rotate`, { grace_period_seconds: 0 });
            expect(successor.status).toBe(201);
            for (let i = 0; i < 3; i++) await introspect(pick(n + i), successor.body.id, successor.body.key);
            if (fate === 'successor revoked')
              expect((await pick(n).post(`/v1/keys/${successor.body.id}/revoke`, {})).status).toBe(200);
            ended.push({
              id: issued.id,
              token: issued.key,
              fate,
              successor: { id: successor.body.id, token: successor.body.key },
            });
          } else {
            ended.push({ id: issued.id, token: issued.key, fate });
          }
          // Still presented after the change, through every instance, as a caller that has not heard.
          for (let i = 0; i < 3; i++) await introspect(pick(n + i), issued.id, issued.key);
        }),
      );
      const workloadMs = Date.now() - startedAt;

      // The end state, from each instance.
      for (const key of ended) {
        if (key.fate === 'kept') await expectEverywhere(key.id, key.token, 'valid');
        if (key.fate === 'revoked') await expectEverywhere(key.id, key.token, 'revoked');
        if (key.fate === 'rotated' || key.fate === 'successor revoked') {
          await expectEverywhere(key.id, key.token, 'expired');
          await expectEverywhere(key.successor!.id, key.successor!.token, key.fate === 'rotated' ? 'valid' : 'revoked');
        }
      }

      // Every call counted once, whichever instance answered it.
      for (const app of apps) await app.app.get(UsageRecorder).flush();
      for (const [id, counts] of tally) {
        const usage = await pick(id.charCodeAt(0)).get(`/v1/keys/${id}/usage`);
        expect({ id, totals: usage.body.totals }).toEqual({
          id,
          totals: { total: Object.values(counts).reduce((a, b) => a + b, 0), outcomes: counts },
        });
      }

      // One chain, and one event per change.
      const verdict = await apps[0].get('/v1/audit-events/verify');
      expect(verdict.body).toMatchObject({ ok: true });
      const expectOneEvent = async (action: string, target: string) => {
        const events = await apps[2].get('/v1/audit-events', { query: { action, target } });
        expect({ action, target, events: events.body.data.length }).toEqual({ action, target, events: 1 });
      };
      for (const key of ended) {
        await expectOneEvent('key.issued', key.id);
        if (key.fate === 'revoked') await expectOneEvent('key.revoked', key.id);
        if (key.successor) await expectOneEvent('key.rotated', key.id);
        if (key.fate === 'successor revoked') await expectOneEvent('key.revoked', key.successor!.id);
      }
      const calls = [...tally.values()].flatMap((c) => Object.values(c)).reduce((a, b) => a + b, 0);
      process.stdout.write(
        `three instances: ${lives.length} keys issued, used, rotated or revoked in ${workloadMs} ms; ${calls} introspections counted\n`,
      );
    });

    it('should share one rate limit and one usage limit across the three', async () => {
      const limited = await makeKey(apps[0], client.id, {
        scopes: [scope],
        rate_limit: { limit: 30, window_seconds: 60 },
      });
      const used = await makeKey(apps[1], client.id, { scopes: [scope], usage_limit: 40 });
      const spread = (id: string, token: string) =>
        Promise.all(Array.from({ length: 150 }, (_, i) => introspect(pick(i), id, token)));
      const [rated, spent] = await Promise.all([spread(limited.id, limited.key), spread(used.id, used.key)]);
      const count = (answers: string[]) =>
        answers.reduce<Record<string, number>>((t, a) => ({ ...t, [a]: (t[a] ?? 0) + 1 }), {});
      // One window of one minute: exactly the limit, whichever instance was asked.
      expect(count(rated)).toEqual({ valid: 30, rate_limited: 120 });
      expect(count(spent)).toEqual({ valid: 40, usage_exceeded: 110 });
      expect((await apps[2].get(`/v1/keys/${used.id}`)).body.remaining).toBe(0);
    });
  },
);
