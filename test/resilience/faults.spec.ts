import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AuditLog } from '../../src/audit/audit-log';
import { openEmbeddedDatabase } from '../../src/database/data-source';
import { KeyChangeListener } from '../../src/credentials/key-change-listener';
import { Metrics } from '../../src/metrics/metrics';
import { expectProblem, makeClient, makeClientWithKey, makeKey, makeScope } from '../support/factories';
import { TcpProxy } from '../support/tcp-proxy';
import { Reply, TestApp, usingPostgres, usingRedis } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';
import { createThrowawayDatabase } from '../support/throwaway-database';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A 503 problem that tells the caller to come back: what every failed admin write must answer. */
function expectUnavailable(res: Reply): void {
  expectProblem(res, 503);
  expect(res.body.type).toBe('urn:keyhouse:problem:service-unavailable');
  expect(res.headers['retry-after']).toBe('1');
}

/** What the database holds about one client's keys, to compare before and after a failed write. */
async function snapshot(db: DataSource, clientId: string) {
  const keys = await db.query(
    `SELECT id::text, name, revoked_at, replaced_by::text, grace_ends_at, usage_limit, remaining, metadata, updated_at,
            ARRAY(SELECT scope_name FROM key_scopes s WHERE s.key_id = k.id ORDER BY 1) AS scopes
       FROM api_keys k WHERE client_id = $1 ORDER BY id`,
    [clientId],
  );
  // This client's events only: suites running beside this one write their own.
  const [{ events }] = await db.query(
    'SELECT count(*)::int AS events FROM audit_events WHERE client_id = $1 OR target_id = $1::text',
    [clientId],
  );
  return { keys, events };
}

/**
 * Every key has the event that issued it (key.issued, or key.rotated naming it), every
 * rotated key names a successor that exists and has its scopes, every revoked key has
 * its key.revoked: a write is whole or absent.
 */
async function expectNothingHalfWritten(db: DataSource, clientId: string): Promise<void> {
  const unexplained = await db.query(
    `SELECT k.id::text, 'no event issued it' AS problem FROM api_keys k
      WHERE k.client_id = $1 AND NOT EXISTS (
        SELECT 1 FROM audit_events e WHERE (e.action = 'key.issued' AND e.target_id = k.id::text)
                                        OR (e.action = 'key.rotated' AND e.changes->>'replaced_by' = k.id::text))
     UNION ALL
     SELECT k.id::text, 'rotated without an event' FROM api_keys k
      WHERE k.client_id = $1 AND k.replaced_by IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM audit_events e WHERE e.action = 'key.rotated' AND e.target_id = k.id::text)
     UNION ALL
     SELECT k.id::text, 'revoked without an event' FROM api_keys k
      WHERE k.client_id = $1 AND k.revoked_at IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM audit_events e WHERE e.action = 'key.revoked' AND e.target_id = k.id::text)
     UNION ALL
     SELECT s.id::text, 'successor missing scopes of its predecessor' FROM api_keys s JOIN api_keys k ON k.id = s.replaces
      WHERE s.client_id = $1 AND EXISTS (
        SELECT scope_name FROM key_scopes WHERE key_id = k.id EXCEPT SELECT scope_name FROM key_scopes WHERE key_id = s.id)`,
    [clientId],
  );
  expect(unexplained).toEqual([]);
}

/**
 * A write whose transaction loses the database half way, on the embedded database as
 * on PostgreSQL: the audit append (the last statement of every write) fails as `pg`
 * fails when the connection drops, so the key's own rows were already written inside
 * the transaction and must be rolled back with it.
 */
describe(`faults: the database lost in the middle of an admin write (${usingPostgres ? 'PostgreSQL' : 'embedded database'})`, () => {
  let db: DataSource;
  const app = useTestApp();
  beforeAll(async () => {
    db = app.app.get(DataSource);
  });

  it('should answer 503 problem+json to each write and leave the stored data as it was', async () => {
    const scope = (await makeScope(app)).name;
    const client = await makeClient(app);
    const key = await makeKey(app, client.id, { scopes: [scope], usage_limit: 10 });
    const expiring = await makeKey(app, client.id, { scopes: [scope] });
    const before = await snapshot(db, client.id);
    const writes: Array<[string, () => Promise<Reply>]> = [
      [
        'issue',
        () => app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'lost', scopes: [scope] }),
      ],
      ['rotate', () => app.post(`/v1/keys/${expiring.id}/rotate`, { grace_period_seconds: 60 })],
      [
        'patch',
        () => app.patch(`/v1/keys/${key.id}`, { name: 'lost', scopes: [], usage_limit: 99, metadata: { lost: true } }),
      ],
      ['revoke', () => app.post(`/v1/keys/${key.id}/revoke`, { reason: 'lost' })],
      ['suspend', () => app.patch(`/v1/clients/${client.id}`, { status: 'suspended' })],
    ];
    const append = jest.spyOn(AuditLog.prototype, 'append');
    try {
      for (const [what, write] of writes) {
        append.mockRejectedValueOnce(Object.assign(new Error('Connection terminated unexpectedly'), { what }));
        const res = await write();
        expect({ what, status: res.status }).toEqual({ what, status: 503 });
        expectUnavailable(res);
      }
    } finally {
      append.mockRestore();
    }
    expect(await snapshot(db, client.id)).toEqual(before);
    expect((await app.get(`/v1/clients/${client.id}`)).body.status).toBe('active');
    await expectNothingHalfWritten(db, client.id);
    // And the same writes go through once the database answers.
    for (const [what, write] of writes)
      expect({ what, status: (await write()).status }).toEqual({
        what,
        status: what === 'issue' || what === 'rotate' ? 201 : 200,
      });
    await expectNothingHalfWritten(db, client.id);
    expect((await app.get('/v1/audit-events/verify')).body).toMatchObject({ ok: true });
  });
});

/**
 * A graceful shutdown while the database does not answer: the last usage counts are
 * all the instance has of them, so it keeps trying (for a bounded time) instead of
 * exiting with them unwritten.
 */
describe(`faults: the database unavailable when shutdown writes the last usage counts (${usingPostgres ? 'PostgreSQL' : 'embedded database in a folder'})`, () => {
  let dataDir: string | null = null;
  afterAll(() => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('should keep trying to write them until the database answers, and exit with every count written', async () => {
    dataDir = usingPostgres ? null : mkdtempSync(join(tmpdir(), 'keyhouse-faults-'));
    const app = await TestApp.start({ USAGE_FLUSH_INTERVAL_MS: 3_600_000, ...(dataDir ? { DATA_DIR: dataDir } : {}) });
    const caller = (await makeClientWithKey(app, ['admin:introspect'])).key.key;
    const key = await makeKey(app, (await makeClient(app)).id);
    for (let i = 0; i < 40; i++)
      expect((await app.post('/v1/introspect', { token: key.key }, { key: caller })).body.active).toBe(true);
    // The first writes at shutdown fail as they do while the database is unreachable; then it answers again.
    const transaction = jest.spyOn(app.app.get(DataSource), 'transaction');
    for (let i = 0; i < 3; i++)
      transaction.mockRejectedValueOnce(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      );
    const started = Date.now();
    await app.close();
    process.stdout.write(
      `shutdown with the database unavailable for three writes: closed after ${Date.now() - started} ms\n`,
    );
    expect(transaction.mock.calls.length).toBeGreaterThanOrEqual(4);
    const rows = await readUsage(dataDir, key.id);
    expect(rows).toEqual([{ outcome: 'valid', count: 40 }]);
  });
});

async function readUsage(dataDir: string | null, keyId: string): Promise<Array<{ outcome: string; count: number }>> {
  const sql = 'SELECT outcome, sum(count)::int AS count FROM usage_buckets WHERE key_id = $1 GROUP BY outcome';
  if (dataDir) {
    const pglite = await openEmbeddedDatabase({ DATA_DIR: dataDir });
    try {
      return (await pglite.query<{ outcome: string; count: number }>(sql, [keyId])).rows;
    } finally {
      await pglite.close();
    }
  }
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    return (await client.query(sql, [keyId])).rows;
  } finally {
    await client.end();
  }
}

const describeOnPostgres = usingPostgres ? describe : describe.skip;

/**
 * Instance A reaches PostgreSQL through a relay the test cuts, slows or turns into a
 * black hole; instance B reaches it directly and makes the changes A must notice. Both
 * use a database of their own: the slow-database test locks a whole table, which would
 * stall the suites running beside this one on the run's shared database.
 */
describeOnPostgres(
  `faults: PostgreSQL unreachable, back, and slow${usingPostgres ? '' : ' (skipped: DATABASE_URL is not set)'}`,
  () => {
    const TTL_MS = 3000;
    const STATEMENT_TIMEOUT_MS = 1000;
    let proxy: TcpProxy;
    let a: TestApp;
    let b: TestApp;
    let db: DataSource;
    let caller: string;
    let client: { id: string };
    let own: { url: string; drop: () => Promise<void> };

    beforeAll(async () => {
      own = await createThrowawayDatabase(process.env.DATABASE_URL!);
      proxy = await TcpProxy.start(new URL(own.url), 5432);
      b = await TestApp.start({ DATABASE_URL: own.url });
      a = await TestApp.start({
        DATABASE_URL: proxy.address(own.url),
        CACHE_TTL_MS: TTL_MS,
        DB_STATEMENT_TIMEOUT_MS: STATEMENT_TIMEOUT_MS,
        DB_POOL_SIZE: 4,
      });
      db = b.app.get(DataSource);
      caller = (await makeClientWithKey(b, ['admin:introspect'])).key.key;
      client = await makeClient(b);
    });
    afterEach(async () => {
      proxy.setMode({ kind: 'pass' });
      await proxy.listen();
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await proxy?.stop();
      await own?.drop();
    });

    const introspect = (app: TestApp, token: string) => app.post('/v1/introspect', { token }, { key: caller });
    const listener = () => a.app.get(KeyChangeListener);
    async function cut(): Promise<void> {
      await proxy.stop();
      await waitFor('the listener to notice', () => !listener().connected, 3000);
    }
    /** Brings the relay back and waits until A writes again and listens again. */
    async function restore(): Promise<number> {
      const at = Date.now();
      await proxy.listen();
      await waitFor(
        'A to write again',
        async () => (await a.post('/v1/clients', { name: `back-${Date.now()}` })).status === 201,
      );
      await waitFor('A to listen again', () => listener().connected);
      return Date.now() - at;
    }

    it('should refuse admin writes with a 503 problem while unreachable, write nothing, and write again once back without a restart', async () => {
      const scope = (await makeScope(b)).name;
      const key = await makeKey(b, client.id, { scopes: [scope] });
      const other = await makeKey(b, client.id);
      expect((await a.get(`/v1/keys/${key.id}`)).status).toBe(200); // the root key is now in A's cache
      const before = await snapshot(db, client.id);
      await cut();
      const name = `written-while-down-${Date.now()}`;
      const answers = await Promise.all([
        a.post('/v1/clients', { name }),
        a.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name, scopes: [scope] }),
        a.post(`/v1/keys/${key.id}/rotate`, {}),
        a.post(`/v1/keys/${other.id}/revoke`, { reason: name }),
        a.patch(`/v1/keys/${key.id}`, { name }),
        a.get(`/v1/keys/${key.id}`),
      ]);
      for (const res of answers) expectUnavailable(res);

      const took = await restore();
      process.stdout.write(`PostgreSQL back: A wrote and listened again ${took} ms after the relay reopened\n`);
      expect(await snapshot(db, client.id)).toMatchObject({ keys: before.keys });
      expect(await db.query('SELECT id FROM clients WHERE name = $1', [name])).toEqual([]);
      await expectNothingHalfWritten(db, client.id);
      expect((await a.post(`/v1/keys/${key.id}/rotate`, {})).status).toBe(201);
    });

    it('should leave each write whole or absent when the connection drops in the middle of its transaction', async () => {
      const [s1, s2] = [(await makeScope(b)).name, (await makeScope(b)).name];
      const own = await makeClient(b);
      const rotating = await Promise.all(Array.from({ length: 6 }, () => makeKey(b, own.id, { scopes: [s1, s2] })));
      expect((await a.get(`/v1/clients/${own.id}`)).status).toBe(200);
      proxy.setMode({ kind: 'slow', latencyMs: 15 });
      const writes = [
        ...Array.from({ length: 8 }, (_, i) =>
          a.post(`/v1/clients/${own.id}/keys`, { environment: 'live', name: `cut-${i}`, scopes: [s1, s2] }),
        ),
        ...rotating.map((k) => a.post(`/v1/keys/${k.id}/rotate`, { grace_period_seconds: 60 })),
      ];
      await sleep(300);
      await proxy.stop();
      const answers = await Promise.all(writes);
      const statuses = answers.map((r) => r.status);
      for (const res of answers) if (res.status !== 201) expectUnavailable(res);
      proxy.setMode({ kind: 'pass' });
      await restore();
      process.stdout.write(
        `writes cut in flight: ${statuses.filter((s) => s === 201).length} answered 201, ${statuses.filter((s) => s === 503).length} answered 503\n`,
      );
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
      // A 201 was committed; a 503 may or may not have been (the connection can drop after COMMIT), but never in part.
      for (const res of answers.filter((r) => r.status === 201))
        expect((await b.get(`/v1/keys/${res.body.id}`)).body.scopes).toEqual([s1, s2].sort());
      await expectNothingHalfWritten(db, own.id);
      expect((await b.get('/v1/audit-events/verify')).body).toMatchObject({ ok: true });
    });

    it('should listen again once back: a revocation through B is seen at A by notification, and no stale entry outlives its TTL', async () => {
      // While A is cut off, B revokes a key A has cached: A may answer from its cache until the TTL, never after.
      const stale = await makeKey(b, client.id);
      expect((await introspect(a, stale.key)).body.active).toBe(true);
      const cachedAt = Date.now();
      await cut();
      expect((await b.post(`/v1/keys/${stale.id}/revoke`, {})).status).toBe(200);
      let lastActive = 0;
      let sawUnavailable = false;
      while (Date.now() < cachedAt + TTL_MS + 1000) {
        const res = await introspect(a, stale.key);
        if (res.status === 200 && res.body.active) lastActive = Date.now();
        else {
          expectUnavailable(res);
          sawUnavailable = true;
        }
        await sleep(50);
      }
      expect(lastActive).toBeLessThan(cachedAt + TTL_MS);
      expect(sawUnavailable).toBe(true);
      await restore();
      expect((await introspect(a, stale.key)).body).toEqual({ active: false, reason: 'revoked' });

      // Listening again: a change through B reaches A well before A's TTL would have dropped the entry.
      const key = await makeKey(b, client.id);
      expect((await introspect(a, key.key)).body.active).toBe(true);
      expect((await introspect(a, key.key)).body.active).toBe(true);
      expect((await b.post(`/v1/keys/${key.id}/revoke`, {})).status).toBe(200);
      const revokedAt = Date.now();
      await waitFor(
        'A to see the revocation',
        async () => (await introspect(a, key.key)).body.active === false,
        TTL_MS,
      );
      const delay = Date.now() - revokedAt;
      process.stdout.write(`revocation through B seen at A ${delay} ms after, once A listened again\n`);
      expect(delay).toBeLessThan(TTL_MS / 2);
    });

    it('should answer a 503 problem in bounded time when PostgreSQL is slow (statement timeout, pool wait), not pile requests up, and recover', async () => {
      const key = await makeKey(b, client.id);
      const uncached = await Promise.all(Array.from({ length: 10 }, () => makeKey(b, client.id)));
      expect((await a.get(`/v1/keys/${key.id}`)).status).toBe(200);
      // A session of its own holds the table: every statement of A on it waits, as on a database too slow to answer.
      const blocker = new Client({ connectionString: own.url });
      await blocker.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
        const started = Date.now();
        const timed = (p: Promise<Reply>) => p.then((res) => ({ res, ms: Date.now() - started }));
        const answers = await Promise.all([
          ...Array.from({ length: 10 }, () => timed(a.get(`/v1/keys/${key.id}`))),
          ...uncached.map((k) => timed(introspect(a, k.key))),
        ]);
        const slowest = Math.max(...answers.map((x) => x.ms));
        process.stdout.write(
          `slow PostgreSQL: 20 requests on a pool of 4 with a ${STATEMENT_TIMEOUT_MS} ms statement timeout, all answered 503 within ${slowest} ms\n`,
        );
        for (const { res } of answers) expectUnavailable(res);
        // Bounded by the statement timeout and the pool's wait, not by how long the database stays slow.
        expect(slowest).toBeLessThan(8000);
        expect(await pendingRequests(a)).toBe(0);
      } finally {
        await blocker.query('ROLLBACK').catch(() => undefined);
        await blocker.end();
      }
      expect((await a.get(`/v1/keys/${key.id}`)).status).toBe(200);
      expect((await introspect(a, uncached[0].key)).body.active).toBe(true);
    });

    it('should answer a 503 problem in bounded time when the network to PostgreSQL stalls, and recover when it flows again', async () => {
      const key = await makeKey(b, client.id);
      const uncached = await Promise.all(Array.from({ length: 6 }, () => makeKey(b, client.id)));
      expect((await a.get(`/v1/keys/${key.id}`)).status).toBe(200);
      proxy.setMode({ kind: 'blackhole' });
      const started = Date.now();
      const answers = await Promise.all([
        ...Array.from({ length: 6 }, () => a.get(`/v1/keys/${key.id}`)),
        ...uncached.map((k) => introspect(a, k.key)),
      ]);
      const took = Date.now() - started;
      process.stdout.write(`stalled network to PostgreSQL: 12 requests answered 503 within ${took} ms\n`);
      for (const res of answers) expectUnavailable(res);
      expect(took).toBeLessThan(12_000);
      proxy.setMode({ kind: 'pass' });
      await waitFor('A to answer again', async () => (await a.get(`/v1/keys/${key.id}`)).status === 200);
      expect((await introspect(a, uncached[0].key)).body.active).toBe(true);
    });
  },
);

describeOnPostgres(
  `faults: connections to PostgreSQL that die silently${usingPostgres ? '' : ' (skipped: DATABASE_URL is not set)'}`,
  () => {
    it('should notice that its listening connection died without a word, listen again, and drop what it may have missed', async () => {
      const proxy = await TcpProxy.start(new URL(process.env.DATABASE_URL!), 5432);
      // A cache that keeps keys for a minute: only a notification, or listening again, can drop the entry in time.
      const a = await TestApp.start({
        DATABASE_URL: proxy.address(process.env.DATABASE_URL!),
        CACHE_TTL_MS: 60_000,
        DB_STATEMENT_TIMEOUT_MS: 1000,
        DB_POOL_SIZE: 2,
      });
      const b = await TestApp.start();
      try {
        const caller = (await makeClientWithKey(b, ['admin:introspect'])).key.key;
        const key = await makeKey(b, (await makeClient(b)).id);
        const introspect = () => a.post('/v1/introspect', { token: key.key }, { key: caller });
        expect((await introspect()).body.active).toBe(true);
        const listener = a.app.get(KeyChangeListener);
        expect(listener.connected).toBe(true);

        // Every connection open now goes silent for good (a firewall forgot them); new ones work.
        proxy.stallOpenConnections();
        expect((await b.post(`/v1/keys/${key.id}/revoke`, {})).status).toBe(200);
        const revokedAt = Date.now();
        let answer = await introspect();
        while (!(answer.status === 200 && answer.body.active === false) && Date.now() - revokedAt < 30_000) {
          // Until then: the cached answer, or a 503 while the pool's silent connections time out; never anything else.
          if (answer.status !== 200) expectUnavailable(answer);
          await sleep(100);
          answer = await introspect();
        }
        const seenAfter = Date.now() - revokedAt;
        process.stdout.write(
          `listening connection died silently: the revocation was seen ${seenAfter} ms after it (cache TTL 60 s)\n`,
        );
        expect(answer.body).toEqual({ active: false, reason: 'revoked' });
        expect(seenAfter).toBeLessThan(20_000);
        expect(listener.connected).toBe(true);
      } finally {
        await a.close();
        await b.close();
        await proxy.stop();
      }
    });
  },
);

/**
 * The network to PostgreSQL swallows every byte for a while, then flows again, while the
 * hot path keeps counting usage: the writes under way time out, their connections are
 * destroyed (never lent out again half way through a transaction), the counts are kept
 * and written once it flows, and meanwhile the lag gauge and /health say that usage is
 * not being written. Shutdown keeps its bound with the network still stalled.
 */
describeOnPostgres(
  `faults: a stalled network to PostgreSQL while usage is written${usingPostgres ? '' : ' (skipped: DATABASE_URL is not set)'}`,
  () => {
    const STATEMENT_TIMEOUT_MS = 1000;
    const FLUSH_MS = 300;
    let proxy: TcpProxy;
    let a: TestApp;
    let b: TestApp;
    let own: { url: string; drop: () => Promise<void> };
    beforeAll(async () => {
      own = await createThrowawayDatabase(process.env.DATABASE_URL!);
      proxy = await TcpProxy.start(new URL(own.url), 5432);
      b = await TestApp.start({ DATABASE_URL: own.url });
      a = await TestApp.start({
        DATABASE_URL: proxy.address(own.url),
        DB_STATEMENT_TIMEOUT_MS: STATEMENT_TIMEOUT_MS,
        DB_POOL_SIZE: 3,
        USAGE_FLUSH_INTERVAL_MS: FLUSH_MS,
        CACHE_TTL_MS: 60_000,
      });
    });
    afterAll(async () => {
      proxy?.setMode({ kind: 'pass' });
      await a?.close().catch(() => undefined);
      await b?.close();
      await proxy?.stop();
      await own?.drop();
    });

    const usageOf = async (keyId: string) => {
      const [{ n }] = await b.app
        .get(DataSource)
        .query('SELECT coalesce(sum(count), 0)::int AS n FROM usage_buckets WHERE key_id = $1', [keyId]);
      return n as number;
    };
    const lagGauge = async () =>
      (await a.app.get(Metrics).registry.getSingleMetric('keyhouse_usage_flush_lag_seconds')!.get()).values[0]?.value ??
      0;

    it('should destroy a connection whose query got no answer, so that usage is written again on fresh ones', async () => {
      const caller = (await makeClientWithKey(b, ['admin:introspect'])).key.key;
      const key = await makeKey(b, (await makeClient(b)).id);
      const introspect = async (times: number) => {
        for (let i = 0; i < times; i++)
          expect((await a.post('/v1/introspect', { token: key.key }, { key: caller })).body.active).toBe(true);
      };
      await introspect(2);
      await waitFor('the first counts to be written', async () => (await usageOf(key.id)) === 2);
      // Every connection open now goes silent for good, half way through whatever it was sending; new ones work.
      proxy.stallOpenConnections();
      const stalledAt = Date.now();
      await introspect(10);
      await waitFor(
        'the counts to be written on fresh connections',
        async () => (await usageOf(key.id)) === 12,
        20_000,
      );
      process.stdout.write(`open connections silenced: usage written again ${Date.now() - stalledAt} ms after\n`);
      const db = a.app.get(DataSource);
      const writes = await Promise.all(
        Array.from({ length: 6 }, () => db.transaction((m) => m.query('SELECT txid_current() AS id'))),
      );
      expect(writes).toHaveLength(6);
    }, 60_000);

    it('should keep the counts through the stall, report them unwritten (lag, /health), write them all once it flows, and stop within its bound', async () => {
      const caller = (await makeClientWithKey(b, ['admin:introspect'])).key.key;
      const key = await makeKey(b, (await makeClient(b)).id);
      const introspect = async (times: number) => {
        for (let i = 0; i < times; i++)
          expect((await a.post('/v1/introspect', { token: key.key }, { key: caller })).body.active).toBe(true);
      };
      await introspect(5);
      await waitFor('the first counts to be written', async () => (await usageOf(key.id)) === 5);
      expect((await a.get('/health')).status).toBe(200);

      // Every byte swallowed, both ways: the flushes under way hang until their queries time out.
      proxy.setMode({ kind: 'blackhole' });
      const stalledAt = Date.now();
      await introspect(20); // answered from the cache, counted in memory
      await waitFor('the lag gauge to show the unwritten counts', async () => (await lagGauge()) >= 1, 10_000);
      await waitFor(
        '/health to say usage is not written',
        async () => {
          const res = await a.get('/health');
          return res.status === 503 && res.body.details?.usage?.status === 'down';
        },
        20_000,
      );
      // Long enough for queries to time out on the connections that carried them.
      while (Date.now() - stalledAt < 4 * (STATEMENT_TIMEOUT_MS + 1000)) await sleep(100);

      proxy.setMode({ kind: 'pass' });
      const restoredAt = Date.now();
      await waitFor('every count to be written once it flows', async () => (await usageOf(key.id)) >= 25, 15_000);
      process.stdout.write(
        `stalled network while writing usage: every count written ${Date.now() - restoredAt} ms after it flowed again\n`,
      );
      await sleep(2 * FLUSH_MS);
      expect(await usageOf(key.id)).toBe(25);
      await waitFor('the lag to fall back', async () => (await lagGauge()) < 1);
      await waitFor('/health to be 200 again', async () => (await a.get('/health')).status === 200);
      // No connection of the pool is left inside an old transaction: each one writes.
      const db = a.app.get(DataSource);
      const writes = await Promise.all(
        Array.from({ length: 6 }, () => db.transaction((m) => m.query('SELECT txid_current() AS id'))),
      );
      expect(writes).toHaveLength(6);

      // Stopped while the network swallows everything again: the last counts cannot be written, but it stops in time.
      await introspect(3);
      proxy.setMode({ kind: 'blackhole' });
      const closing = Date.now();
      await a.close();
      const took = Date.now() - closing;
      process.stdout.write(`closed with the network to PostgreSQL stalled in ${took} ms\n`);
      expect(took).toBeLessThan(20_000);
    }, 90_000);
  },
);

async function pendingRequests(app: TestApp): Promise<number | undefined> {
  const metric = await app.app.get(Metrics).registry.getSingleMetric('keyhouse_db_pool_pending_requests')!.get();
  return metric.values[0]?.value;
}

const describeWithRedis = usingRedis ? describe : describe.skip;

/** rate-limit.spec cuts Redis; here it still accepts connections but never answers. */
describeWithRedis(`faults: Redis stalls and flows again${usingRedis ? '' : ' (skipped: REDIS_URL is not set)'}`, () => {
  let proxy: TcpProxy;
  let app: TestApp;
  beforeAll(async () => {
    proxy = await TcpProxy.start(new URL(process.env.REDIS_URL!), 6379);
    app = await TestApp.start({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_COMMAND_TIMEOUT_MS: 100 });
  });
  afterAll(async () => {
    proxy.setMode({ kind: 'pass' });
    await app.close();
    await proxy.stop();
  });

  it('should decide locally within the command timeout while Redis hangs, still limiting, and share the count again after', async () => {
    const client = await makeClient(app);
    const key = await makeKey(app, client.id, { rate_limit: { limit: 5, window_seconds: 60 } });
    const authorize = () => app.get('/v1/authorize', { key: null, headers: { authorization: `Bearer ${key.key}` } });
    expect((await authorize()).status).toBe(204);

    proxy.setMode({ kind: 'blackhole' });
    const started = Date.now();
    const during: number[] = [];
    for (let i = 0; i < 8; i++) during.push((await authorize()).status);
    const took = Date.now() - started;
    // The local limiter starts its own count: 5 admitted, then 429s; no call waited on Redis beyond its timeout.
    expect(during).toEqual([204, 204, 204, 204, 204, 429, 429, 429]);
    expect(took).toBeLessThan(8 * 400);
    const fallbacks = (await app.app.get(Metrics).rateLimiterFallbacks.get()).values[0]?.value ?? 0;
    expect(fallbacks).toBeGreaterThanOrEqual(8);

    proxy.setMode({ kind: 'pass' });
    const localDecisions = async () => (await app.app.get(Metrics).rateLimiterFallbacks.get()).values[0]?.value ?? 0;
    await waitFor('Redis to answer again', async () => {
      const before = await localDecisions();
      await authorize();
      return (await localDecisions()) === before;
    });
    // Decided by Redis again: no more local decisions, and its count (which kept the call
    // before the stall, and may add the stalled commands it received late) never admits past the limit.
    const fallbacksBefore = (await app.app.get(Metrics).rateLimiterFallbacks.get()).values[0]?.value ?? 0;
    const after: number[] = [];
    for (let i = 0; i < 6; i++) after.push((await authorize()).status);
    expect((await app.app.get(Metrics).rateLimiterFallbacks.get()).values[0]?.value ?? 0).toBe(fallbacksBefore);
    expect(after.filter((s) => s === 204).length).toBeLessThanOrEqual(4);
    expect(after.at(-1)).toBe(429);
  });
});
