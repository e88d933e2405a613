import { DataSource } from 'typeorm';
import { UsageRecorder } from '../../src/usage/usage-recorder';
import { expectProblem, makeClient, makeKey, makeScope, unique } from '../support/factories';
import { Reply, usingPostgres } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

/**
 * Changes to one key racing each other. On PostgreSQL the requests run on separate
 * pool connections at once, so only row locks and constraints keep them apart; the
 * embedded database has one session, and the same tests check that serialising
 * transactions keeps every rule too. Every test ends with the audit chain verified.
 */
const ROUNDS = 15;

describe(`races between changes to one key (${usingPostgres ? 'PostgreSQL, pool of 8' : 'embedded database'})`, () => {
  let db: DataSource;
  let client: { id: string };

  const app = useTestApp({ DB_POOL_SIZE: 8, USAGE_FLUSH_INTERVAL_MS: 3_600_000 });
  beforeAll(async () => {
    db = app.app.get(DataSource);
    client = await makeClient(app);
  });
  afterEach(async () => {
    const verdict = await app.get('/v1/audit-events/verify');
    expect(verdict.status).toBe(200);
    expect(verdict.body).toMatchObject({ ok: true });
  });

  const rotate = (id: string, body: Record<string, unknown> = { grace_period_seconds: 3600 }) =>
    app.post(`/v1/keys/${id}/rotate`, body);
  const revoke = (id: string) => app.post(`/v1/keys/${id}/revoke`, { reason: 'race' });
  const successorsOf = async (id: string) =>
    (await db.query<{ id: string }[]>('SELECT id::text FROM api_keys WHERE replaces = $1', [id])).map((r) => r.id);
  const eventsOf = (id: string) =>
    db.query<{ event_id: string; action: string; changes: Record<string, unknown> }[]>(
      'SELECT id::text AS event_id, action, changes FROM audit_events WHERE target_id = $1 ORDER BY id',
      [id],
    );

  it(`should give one 201, one 409 and one successor to two concurrent rotations of one key, ${ROUNDS} times over`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = await makeKey(app, client.id, { usage_limit: 50 });
      const answers = await Promise.all([rotate(key.id), rotate(key.id)]);
      const won = answers.find((a) => a.status === 201);
      const lost = answers.find((a) => a.status !== 201);
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
      expectProblem(lost!, 409);
      expect(lost!.body.replaced_by).toBe(won!.body.id);

      expect(await successorsOf(key.id)).toEqual([won!.body.id]);
      expect((await app.get(`/v1/keys/${key.id}`)).body).toMatchObject({
        status: 'expiring',
        replaced_by: won!.body.id,
      });
      expect((await eventsOf(key.id)).map((e) => e.action)).toEqual(['key.issued', 'key.rotated']);
    }
  });

  it('should give one 201 and four 409s to five concurrent rotations of one key', async () => {
    const key = await makeKey(app, client.id);
    const answers = await Promise.all(Array.from({ length: 5 }, () => rotate(key.id)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect(await successorsOf(key.id)).toHaveLength(1);
  });

  /**
   * The rule, in both orders:
   * - revocation first: the rotation is a 409 (the key is revoked) and no successor exists;
   * - rotation first: the successor exists and stays good (revoking a key in its grace
   *   period does not touch its successor, see keys-lifecycle), and the trail shows
   *   key.rotated naming that successor before key.revoked.
   * So a good successor of a revoked key always has a key.rotated before the key.revoked.
   */
  it(`should never leave a good successor of a revoked key without key.rotated before key.revoked in the trail, ${ROUNDS} times over`, async () => {
    const orders = { revokedFirst: 0, rotatedFirst: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const key = await makeKey(app, client.id);
      // Alternate who is sent first; the database decides who wins.
      const [rotation, revocation] =
        round % 2 === 0
          ? await Promise.all([rotate(key.id), revoke(key.id)])
          : await Promise.all([revoke(key.id), rotate(key.id)]).then(([v, r]) => [r, v] as const);
      expect(revocation.status).toBe(200);
      expect(revocation.body.status).toBe('revoked');
      const successors = await successorsOf(key.id);
      const trail = await eventsOf(key.id);
      if (rotation.status === 409) {
        orders.revokedFirst++;
        expect(rotation.body.key_status).toBe('revoked');
        expect(successors).toEqual([]);
        expect(trail.map((e) => e.action)).toEqual(['key.issued', 'key.revoked']);
      } else {
        orders.rotatedFirst++;
        expect(rotation.status).toBe(201);
        expect(successors).toEqual([rotation.body.id]);
        expect(trail.map((e) => e.action)).toEqual(['key.issued', 'key.rotated', 'key.revoked']);
        expect(trail[1].changes.replaced_by).toBe(rotation.body.id);
        expect((await app.get(`/v1/keys/${rotation.body.id}`)).body.status).toBe('active');
      }
    }
    process.stdout.write(`revocation racing rotation, ${ROUNDS} rounds: ${JSON.stringify(orders)}\n`);
    await expectEveryGoodSuccessorExplained(db);
  });

  it(`should apply every field of concurrent patches to one key, ${ROUNDS} times over`, async () => {
    const stem = unique('race').replace('-', '');
    const [read, write] = [(await makeScope(app, `${stem}:read`)).name, (await makeScope(app, `${stem}:write`)).name];
    for (let round = 0; round < ROUNDS; round++) {
      const key = await makeKey(app, client.id, { scopes: [read] });
      const expiresAt = new Date(Date.now() + 86_400_000 + round * 1000).toISOString();
      const patches: Record<string, unknown>[] = [
        { name: `renamed-${round}` },
        { metadata: { round } },
        { rate_limit: { limit: 100 + round, window_seconds: 60 } },
        { ip_allowlist: ['203.0.113.0/24'] },
        { usage_limit: 1000 + round },
        { expires_at: expiresAt },
        { scopes: [read, write] },
      ];
      const answers = await Promise.all(patches.map((p) => app.patch(`/v1/keys/${key.id}`, p)));
      expect(answers.map((a) => a.status)).toEqual(patches.map(() => 200));
      expect((await app.get(`/v1/keys/${key.id}`)).body).toMatchObject({
        name: `renamed-${round}`,
        metadata: { round },
        rate_limit: { limit: 100 + round, window_seconds: 60 },
        ip_allowlist: ['203.0.113.0/24'],
        usage_limit: 1000 + round,
        remaining: 1000 + round,
        expires_at: expiresAt,
        scopes: [read, write].sort(),
      });
      // One key.updated per patch, each naming only its own field.
      const updates = (await eventsOf(key.id)).filter((e) => e.action === 'key.updated');
      expect(updates.map((e) => Object.keys(e.changes).sort().join()).sort()).toEqual(
        ['name', 'metadata', 'rate_limit', 'ip_allowlist', 'usage_limit', 'expires_at', 'scopes'].sort(),
      );
    }
  });

  it(`should apply every field of concurrent patches to one client, ${ROUNDS} times over`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const own = await makeClient(app);
      const patches = [
        { name: `client-${round}-${own.id.slice(0, 8)}` },
        { description: `round ${round}` },
        { metadata: { round } },
        { status: 'suspended' },
      ];
      const answers = await Promise.all(patches.map((p) => app.patch(`/v1/clients/${own.id}`, p)));
      expect(answers.map((a) => a.status)).toEqual(patches.map(() => 200));
      expect((await app.get(`/v1/clients/${own.id}`)).body).toMatchObject(Object.assign({}, ...patches));
      const actions = (await eventsOf(own.id)).map((e) => e.action).sort();
      expect(actions).toEqual([
        'client.created',
        'client.suspended',
        'client.updated',
        'client.updated',
        'client.updated',
      ]);
    }
  });

  it('should let exactly 100 of 1,000 concurrent introspections and forward-auth checks through with 100 uses left, and count each', async () => {
    const caller = (await makeKey(app, (await makeClient(app)).id, { scopes: ['admin:introspect'] })).key;
    const key = await makeKey(app, client.id, { usage_limit: 100 });
    const call = (i: number): Promise<string> =>
      i % 2 === 0
        ? app
            .post('/v1/introspect', { token: key.key }, { key: caller })
            .then((r: Reply) => (r.status === 200 ? (r.body.active ? 'valid' : r.body.reason) : `status ${r.status}`))
        : app
            .get('/v1/authorize', { key: null, headers: { authorization: `Bearer ${key.key}` } })
            .then((r: Reply) =>
              r.status === 204 ? 'valid' : r.status === 403 ? 'usage_exceeded' : `status ${r.status}`,
            );
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => call(i)));
    const tally = answers.reduce<Record<string, number>>((t, r) => ({ ...t, [r]: (t[r] ?? 0) + 1 }), {});
    expect(tally).toEqual({ valid: 100, usage_exceeded: 900 });
    expect((await app.get(`/v1/keys/${key.id}`)).body.remaining).toBe(0);

    await app.app.get(UsageRecorder).flush();
    const usage = await app.get(`/v1/keys/${key.id}/usage`);
    expect(usage.body.totals).toEqual({ total: 1000, outcomes: { valid: 100, usage_exceeded: 900 } });
  });

  it('should spend the uses left once between a key in its grace period and its successor, however the calls interleave', async () => {
    const caller = (await makeKey(app, (await makeClient(app)).id, { scopes: ['admin:introspect'] })).key;
    const key = await makeKey(app, client.id, { usage_limit: 30 });
    const use = (token: string) =>
      app
        .post('/v1/introspect', { token }, { key: caller })
        .then((r: Reply) => (r.body.active ? 'valid' : r.body.reason));
    for (let i = 0; i < 5; i++) expect(await use(key.key)).toBe('valid');
    // Rotated while calls with the old key are under way: none of them may add a use.
    const [during, rotation] = await Promise.all([
      Promise.all(Array.from({ length: 10 }, () => use(key.key))),
      rotate(key.id),
    ]);
    expect(rotation.status).toBe(201);
    expect(during).toEqual(Array(10).fill('valid'));
    const successor = rotation.body;
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => use(i % 2 === 0 ? key.key : successor.key)),
    );
    const tally = answers.reduce<Record<string, number>>((t, r) => ({ ...t, [r]: (t[r] ?? 0) + 1 }), {});
    // 30 uses in all: 5 before, 10 during the rotation, 15 after, whichever key was presented.
    expect(tally).toEqual({ valid: 15, usage_exceeded: 185 });
    expect((await app.get(`/v1/keys/${successor.id}`)).body.remaining).toBe(0);
  });

  it('should answer 400, never a 500, to a key given a scope that is being deleted, and keep no link to a deleted scope', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < ROUNDS * 2; round++) {
      const scope = (await makeScope(app)).name;
      // Even rounds issue a key with the scope, odd ones give it to an existing key.
      const existing = round % 2 === 1 ? await makeKey(app, client.id) : null;
      const grant = existing
        ? app.patch(`/v1/keys/${existing.id}`, { scopes: [scope] })
        : app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'k', scopes: [scope] });
      const [granted, deleted] = await Promise.all([grant, app.delete(`/v1/scopes/${scope}`)]);
      // Either the key took the scope first (and the deletion is a 409 while the key holds it),
      // or the deletion came first (and the scope is no longer in the catalog: a 400).
      const outcome = `${granted.status === 201 ? 200 : granted.status}/${deleted.status}`;
      expect({ outcome }).toEqual({ outcome: expect.stringMatching(/^(200\/409|400\/204)$/) });
      outcomes.push(outcome);
    }
    const [{ orphans }] = await db.query(
      'SELECT count(*)::int AS orphans FROM key_scopes ks LEFT JOIN scopes s ON s.name = ks.scope_name WHERE s.name IS NULL',
    );
    expect(orphans).toBe(0);
    process.stdout.write(
      `key issue or patch racing scope deletion, ${ROUNDS * 2} rounds: ${JSON.stringify(outcomes.reduce<Record<string, number>>((t, o) => ({ ...t, [o]: (t[o] ?? 0) + 1 }), {}))}\n`,
    );
  });
});

/** Across the whole database: every good key whose predecessor is revoked has the trail that explains it. */
async function expectEveryGoodSuccessorExplained(db: DataSource): Promise<void> {
  const unexplained = await db.query(`
    SELECT s.id::text AS successor, k.id::text AS revoked
      FROM api_keys s JOIN api_keys k ON k.id = s.replaces
     WHERE k.revoked_at IS NOT NULL AND s.revoked_at IS NULL
       AND NOT EXISTS (
         SELECT 1 FROM audit_events rot JOIN audit_events rev ON rev.target_id = rot.target_id
          WHERE rot.target_id = k.id::text AND rot.action = 'key.rotated' AND rot.changes->>'replaced_by' = s.id::text
            AND rev.action = 'key.revoked' AND rev.id > rot.id)`);
  expect(unexplained).toEqual([]);
}
