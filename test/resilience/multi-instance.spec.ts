import { DataSource } from 'typeorm';
import { KeyChangeListener } from '../../src/credentials/key-change-listener';
import { makeClient, makeClientWithKey, makeKey, makeScope, unique } from '../support/factories';
import { usingPostgres } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

/**
 * Two instances on one PostgreSQL database. Their caches hold keys for a minute
 * (CACHE_TTL_MS=60000), so when B sees a change made through A within seconds, only
 * the change notification (LISTEN/NOTIFY from the database's triggers) can have told it.
 */
const describeOnPostgres = usingPostgres ? describe : describe.skip;

describeOnPostgres(`two instances on one database${usingPostgres ? '' : ' (skipped: DATABASE_URL is not set)'}`, () => {
  let callerB: string;
  let client: { id: string };
  const delays: string[] = [];

  afterAll(() => {
    process.stdout.write(`change seen by the other instance after: ${delays.join('; ')}\n`);
  });
  const a = useTestApp({ CACHE_TTL_MS: 60_000, CACHE_NEGATIVE_TTL_MS: 60_000 });
  const b = useTestApp({ CACHE_TTL_MS: 60_000, CACHE_NEGATIVE_TTL_MS: 60_000 });
  beforeAll(async () => {
    callerB = (await makeClientWithKey(a, ['admin:introspect'])).key.key;
    client = await makeClient(a);
  });

  const throughB = async (body: Record<string, unknown>) => {
    const res = await b.post('/v1/introspect', body, { key: callerB });
    expect(res.status).toBe(200);
    return res.body.active ? 'valid' : res.body.reason;
  };

  /** Makes the change through A, then asks B until it answers `expected`; records how long that took. */
  async function delayUntilSeen(
    what: string,
    change: () => Promise<void>,
    body: Record<string, unknown>,
    expected: string,
  ): Promise<number> {
    expect(await throughB(body)).toBe('valid');
    expect(await throughB(body)).toBe('valid'); // now surely from B's cache
    await change();
    const changedAt = Date.now();
    const deadline = changedAt + 5000; // the default CACHE_TTL_MS: the notification must beat it
    let answer = await throughB(body);
    while (answer !== expected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
      answer = await throughB(body);
    }
    const delay = Date.now() - changedAt;
    expect({ what, answer }).toEqual({ what, answer: expected });
    delays.push(`${what} ${delay} ms`);
    return delay;
  }

  it('should see a revocation made through A at B within the notification delay', async () => {
    const key = await makeKey(a, client.id);
    const delay = await delayUntilSeen(
      'revocation',
      async () => void expect((await a.post(`/v1/keys/${key.id}/revoke`, {})).status).toBe(200),
      { token: key.key },
      'revoked',
    );
    expect(delay).toBeLessThan(2000);
  });

  it('should see the end of a rotation (grace 0) made through A at B', async () => {
    const key = await makeKey(a, client.id);
    const delay = await delayUntilSeen(
      'rotation end',
      async () =>
        void expect((await a.post(`/v1/keys/${key.id}/rotate`, { grace_period_seconds: 0 })).status).toBe(201),
      { token: key.key },
      'expired',
    );
    expect(delay).toBeLessThan(2000);
  });

  it("should see a client's suspension made through A at B, for every key of the client", async () => {
    const own = await makeClient(a);
    const first = await makeKey(a, own.id);
    const second = await makeKey(a, own.id);
    expect(await throughB({ token: second.key })).toBe('valid');
    const delay = await delayUntilSeen(
      'suspension',
      async () => void expect((await a.patch(`/v1/clients/${own.id}`, { status: 'suspended' })).status).toBe(200),
      { token: first.key },
      'client_suspended',
    );
    expect(delay).toBeLessThan(2000);
    expect(await throughB({ token: second.key })).toBe('client_suspended');
  });

  it('should see a scope change made through A at B', async () => {
    const stem = unique('mi').replace('-', '');
    const read = (await makeScope(a, `${stem}:read`)).name;
    const write = (await makeScope(a, `${stem}:write`)).name;
    const key = await makeKey(a, client.id, { scopes: [read, write] });
    const delay = await delayUntilSeen(
      'scope change',
      async () => void expect((await a.patch(`/v1/keys/${key.id}`, { scopes: [read] })).status).toBe(200),
      { token: key.key, scope: write },
      'insufficient_scope',
    );
    expect(delay).toBeLessThan(2000);
    expect(await throughB({ token: key.key, scope: read })).toBe('valid');
  });

  it('should listen again after its connection is cut, and see the next change', async () => {
    const listener = b.app.get(KeyChangeListener);
    const pid = (listener as unknown as { client: { processID: number } | null }).client?.processID;
    expect(pid).toEqual(expect.any(Number));
    await a.app.get(DataSource).query('SELECT pg_terminate_backend($1)', [pid]);
    const deadline = Date.now() + 10_000;
    while (
      Date.now() < deadline &&
      (listener as unknown as { client: { processID: number } | null }).client?.processID === pid
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    while (Date.now() < deadline && !listener.connected) await new Promise((r) => setTimeout(r, 20));
    expect(listener.connected).toBe(true);

    const key = await makeKey(a, client.id);
    const delay = await delayUntilSeen(
      'revocation after reconnecting',
      async () => void (await a.post(`/v1/keys/${key.id}/revoke`, {})),
      { token: key.key },
      'revoked',
    );
    expect(delay).toBeLessThan(2000);
  });
});
