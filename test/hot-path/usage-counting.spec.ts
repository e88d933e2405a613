import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { openEmbeddedDatabase } from '../../src/database/data-source';
import { UsageRecorder } from '../../src/usage/usage-recorder';
import { makeClient, makeClientWithKey, makeKey, makeScope, unique } from '../support/factories';
import { OpenApiMismatch } from '../support/openapi-validation';
import { TestApp, usingPostgres } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

type Tally = Record<string, number>;

/** Calls that the test sends, round robin: each key with what makes its outcome. */
interface Traffic {
  caller: string;
  cases: Array<{ keyId: string; body: Record<string, unknown> }>;
}

async function traffic(app: TestApp): Promise<Traffic> {
  const scope = (await makeScope(app, `${unique('use').replace('-', '')}:read`)).name;
  const client = await makeClient(app);
  const good = await makeKey(app, client.id, { scopes: [scope] });
  const revoked = await makeKey(app, client.id);
  await app.post(`/v1/keys/${revoked.id}/revoke`, {});
  const fenced = await makeKey(app, client.id, { ip_allowlist: ['2001:db8::/32'] });
  const caller = (await makeClientWithKey(app, ['admin:introspect'])).key.key;
  return {
    caller,
    cases: [
      { keyId: good.id, body: { token: good.key, scope } },
      { keyId: good.id, body: { token: good.key, scope: `${scope}x` } },
      { keyId: revoked.id, body: { token: revoked.key } },
      { keyId: fenced.id, body: { token: fenced.key, client_ip: '2001:db8::1' } },
      { keyId: fenced.id, body: { token: fenced.key, client_ip: '2001:db9::1' } },
    ],
  };
}

/**
 * Sends up to `total` introspections from `concurrency` loops; tallies the answers per
 * key and outcome. Once `shuttingDown()` says so, a loop stops at its first answer that
 * is not a 200 (a 503, or a refused call once the app has closed): those are `refused`.
 */
async function load(
  app: TestApp,
  t: Traffic,
  total: number,
  concurrency: number,
  options: { onProgress?: (done: number) => void; shuttingDown?: () => boolean } = {},
): Promise<{ tally: Tally; answered: number; refused: number }> {
  const tally: Tally = {};
  let sent = 0;
  let answered = 0;
  let refused = 0;
  const loop = async () => {
    while (sent < total) {
      const { keyId, body } = t.cases[sent++ % t.cases.length];
      // Every answer, those during shutdown included, is checked against the document.
      const res = await app.post('/v1/introspect', body, { key: t.caller }).catch((err: unknown) => {
        // Sent as shutdown began and answered after the app had closed: inject refuses it.
        if (options.shuttingDown?.() && !(err instanceof OpenApiMismatch)) return null;
        throw err;
      });
      if (res === null || (res.status === 503 && options.shuttingDown?.())) {
        if (res) expect(res.headers['content-type']).toContain('application/problem+json');
        refused++;
        return;
      }
      if (res.status !== 200) throw new Error(`introspection answered ${res.status}: ${res.raw}`);
      const outcome = res.body.active ? 'valid' : res.body.reason;
      tally[`${keyId} ${outcome}`] = (tally[`${keyId} ${outcome}`] ?? 0) + 1;
      answered++;
      options.onProgress?.(answered);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { tally, answered, refused };
}

const STORED_SQL = `SELECT key_id::text, outcome, sum(count)::int AS count FROM usage_buckets WHERE key_id = ANY($1::uuid[]) GROUP BY 1, 2`;

function tallyOf(rows: Array<{ key_id: string; outcome: string; count: number }>): Tally {
  return Object.fromEntries(rows.map((r) => [`${r.key_id} ${r.outcome}`, Number(r.count)]));
}

const keyIds = (t: Traffic) => [...new Set(t.cases.map((c) => c.keyId))];

describe('usage counting', () => {
  describe('in batches', () => {
    let db: DataSource;
    // No timed flush during the test: only the explicit one writes.
    const app = useTestApp({ USAGE_FLUSH_INTERVAL_MS: 3_600_000 });
    beforeAll(async () => {
      db = app.app.get(DataSource);
    });

    it('should store exact counts per key and outcome for 10,000 introspections after a flush, and write nothing before it', async () => {
      const t = await traffic(app);
      const { tally, answered } = await load(app, t, 10_000, 50);
      expect(answered).toBe(10_000);
      expect(Object.values(tally).reduce((a, b) => a + b, 0)).toBe(10_000);
      expect(Object.keys(tally)).toHaveLength(5);

      expect(await db.query(STORED_SQL, [keyIds(t)])).toEqual([]);
      const rows = await app.app.get(UsageRecorder).flush();
      expect(rows).toBeGreaterThanOrEqual(5);
      expect(tallyOf(await db.query(STORED_SQL, [keyIds(t)]))).toEqual(tally);

      // Every key presented has its last use, whatever the answer.
      const used = await db.query(`SELECT id::text, last_used_at FROM api_keys WHERE id = ANY($1::uuid[])`, [
        keyIds(t),
      ]);
      for (const row of used) expect(Date.now() - new Date(row.last_used_at).getTime()).toBeLessThan(60_000);

      // A second flush adds only what came since.
      await load(app, t, 5, 1);
      await app.app.get(UsageRecorder).flush();
      const again = tallyOf(await db.query(STORED_SQL, [keyIds(t)]));
      expect(Object.values(again).reduce((a, b) => a + b, 0)).toBe(10_005);
    });

    it('should keep the counts of a flush that fails and write them with the next', async () => {
      const t = await traffic(app);
      const { tally } = await load(app, t, 50, 5);
      const transaction = jest.spyOn(db, 'transaction').mockRejectedValueOnce(new Error('connection terminated'));
      expect(await app.app.get(UsageRecorder).flush()).toBe(0);
      transaction.mockRestore();
      expect(await db.query(STORED_SQL, [keyIds(t)])).toEqual([]);
      await app.app.get(UsageRecorder).flush();
      expect(tallyOf(await db.query(STORED_SQL, [keyIds(t)]))).toEqual(tally);
    });
  });

  describe('on its interval', () => {
    const app = useTestApp({ USAGE_FLUSH_INTERVAL_MS: 200 });

    it('should reach the database within USAGE_FLUSH_INTERVAL_MS without being asked', async () => {
      const t = await traffic(app);
      const { tally } = await load(app, t, 100, 5);
      const db = app.app.get(DataSource);
      const deadline = Date.now() + 3000;
      let stored: Tally = {};
      while (Date.now() < deadline) {
        stored = tallyOf(await db.query(STORED_SQL, [keyIds(t)]));
        if (Object.values(stored).reduce((a, b) => a + b, 0) === 100) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(stored).toEqual(tally);
    });
  });

  describe('at a graceful shutdown in the middle of the load', () => {
    let dataDir: string | null = null;
    afterAll(() => {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('should store exactly what was answered: calls under way finish and are counted, later ones get a 503', async () => {
      // The embedded database must outlive the app to be read afterwards: a folder, not memory.
      dataDir = usingPostgres ? null : mkdtempSync(join(tmpdir(), 'keyhouse-usage-'));
      const app = await TestApp.start({
        USAGE_FLUSH_INTERVAL_MS: 3_600_000,
        ...(dataDir ? { DATA_DIR: dataDir } : {}),
      });
      const t = await traffic(app);
      let closing: Promise<void> | null = null;
      const { tally, answered, refused } = await load(app, t, 10_000, 50, {
        onProgress: (done) => {
          if (done === 4000) closing = app.close();
        },
        shuttingDown: () => closing !== null,
      });
      // eslint-disable-next-line @typescript-eslint/await-thenable -- set to app.close()'s promise by onProgress, which the type checker does not follow.
      await closing;
      expect(answered).toBeGreaterThanOrEqual(4000);
      expect(answered).toBeLessThan(10_000);
      expect(refused).toBeGreaterThan(0);

      const stored = tallyOf(await readAfterShutdown(dataDir, keyIds(t)));
      expect(stored).toEqual(tally);
      expect(Object.values(stored).reduce((a, b) => a + b, 0)).toBe(answered);
    });
  });
});

async function readAfterShutdown(dataDir: string | null, ids: string[]) {
  if (dataDir) {
    const pglite = await openEmbeddedDatabase({ DATA_DIR: dataDir });
    try {
      return (await pglite.query<{ key_id: string; outcome: string; count: number }>(STORED_SQL, [ids])).rows;
    } finally {
      await pglite.close();
    }
  }
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    return (await client.query(STORED_SQL, [ids])).rows;
  } finally {
    await client.end();
  }
}
