import { makeClient, makeClientWithKey, makeKey } from '../../../test/support/factories';
import { usingPostgres } from '../../../test/support/test-app';
import { useTestApp } from '../../../test/support/use-test-app';
import { createVerifier, type Verifier } from '@keyhouse/client';
import { until } from './middleware-suite';

/**
 * Two Keyhouse instances on one PostgreSQL database: keys are revoked through A, while the
 * verifier asks B and is subscribed to B's change stream. Its cached answers live ten minutes,
 * so a refusal within seconds can only come from B's stream. Prints the delay's p50, p99 and
 * max over 100 trials; asserts only that every trial was refused.
 */
const describeOnPostgres = usingPostgres ? describe : describe.skip;
const TRIALS = 100;

describeOnPostgres(
  `a verifier subscribed to another instance${usingPostgres ? '' : ' (skipped: DATABASE_URL is not set)'}`,
  () => {
    const a = useTestApp();
    const b = useTestApp();
    let verifier: Verifier;
    let clientId: string;

    beforeAll(async () => {
      await b.app.listen({ port: 0, host: '127.0.0.1' });
      const service = await makeClientWithKey(a, ['admin:introspect']);
      clientId = (await makeClient(a)).id;
      verifier = createVerifier({
        url: await b.app.getUrl(),
        key: service.key.key,
        cacheTtlMs: 600_000,
        reconnectMs: 100,
      });
      await until(() => verifier.status().stream === 'up', 10_000, 'the stream of B is up');
    });
    afterAll(async () => {
      await verifier?.close();
    });

    it(`should drop a key revoked through A from its cache, in each of ${TRIALS} trials`, async () => {
      const delays: number[] = [];
      for (let trial = 0; trial < TRIALS; trial++) {
        const before = verifier.status().lastEventId;
        const key = await makeKey(a, clientId);
        // The key's creation is a change too: an answer asked for before it arrives is not kept.
        await until(() => verifier.status().lastEventId !== before, 10_000, 'the creation event');
        expect(await verifier.verify(key.key)).toMatchObject({ active: true, cached: false });
        // A change that lands between two calls (the key's scopes follow its row) drops the entry: ask again.
        await until(async () => (await verifier.verify(key.key)).cached === true, 10_000, 'an answer from the cache');
        const revoked = await a.post(`/v1/keys/${key.id}/revoke`, { reason: 'two instances' });
        expect(revoked.status).toBe(200);
        const answeredAt = performance.now();
        let decision = await verifier.verify(key.key);
        while (decision.active && performance.now() - answeredAt < 10_000) {
          await new Promise((resolve) => setImmediate(resolve));
          decision = await verifier.verify(key.key);
        }
        expect(decision).toMatchObject({ active: false, reason: 'revoked' });
        delays.push(performance.now() - answeredAt);
      }
      delays.sort((x, y) => x - y);
      const at = (q: number) => delays[Math.min(delays.length - 1, Math.ceil(q * delays.length) - 1)].toFixed(1);
      process.stdout.write(
        `revocation through A seen by a verifier on B's stream, ${TRIALS} trials, ms after the revoke answered: ` +
          `p50 ${at(0.5)}, p99 ${at(0.99)}, max ${delays.at(-1)!.toFixed(1)}\n`,
      );
      expect(verifier.status().stream).toBe('up');
    }, 600_000);
  },
);
