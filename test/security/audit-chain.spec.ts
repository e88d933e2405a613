import { DataSource, EntityManager } from 'typeorm';
import { chainHash } from '../../src/audit/audit-chain';
import { AuditChainVerifier, ChainVerdict } from '../../src/audit/audit-verifier';
import { makeClient, makeKey } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

type Row = Record<string, any> & { id: string; hash: string; prev_hash: string };

const COLUMNS = [
  'id',
  'occurred_at',
  'actor_key_id',
  'action',
  'target_type',
  'target_id',
  'client_id',
  'request_id',
  'source_ip',
  'changes',
  'prev_hash',
  'hash',
];

/** The hash an attacker would write after editing a row, to make the row itself look consistent. */
function rehash(row: Row): string {
  return chainHash(row.prev_hash, {
    occurredAt: new Date(row.occurred_at).toISOString(),
    actorKeyId: row.actor_key_id,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    clientId: row.client_id,
    requestId: row.request_id,
    sourceIp: row.source_ip,
    changes: row.changes,
  });
}

describe('audit chain verification', () => {
  let db: DataSource;
  const app = useTestApp();
  beforeAll(async () => {
    db = app.app.get(DataSource);
  });

  it('should keep one chain through 200 concurrent changes', async () => {
    const created = await Promise.all(
      Array.from({ length: 200 }, () =>
        app.post('/v1/clients', { name: `concurrent-${Math.random().toString(36).slice(2)}` }),
      ),
    );
    expect(created.map((r) => r.status)).toEqual(Array(200).fill(201));

    const verdict = await app.get('/v1/audit-events/verify');
    expect(verdict.status).toBe(200);
    expect(verdict.body).toMatchObject({ ok: true, head: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(verdict.body.checked).toBeGreaterThanOrEqual(201);

    // A fork (two events naming the same predecessor) would also fail verify; checked here directly.
    const ids = created.map((r) => r.body.id);
    const mine = await db.query<Row[]>(
      'SELECT id, prev_hash FROM audit_events WHERE action = $1 AND target_id = ANY($2)',
      ['client.created', ids],
    );
    expect(mine).toHaveLength(200);
    const [{ events, predecessors }] = await db.query(
      'SELECT count(*)::int AS events, count(DISTINCT prev_hash)::int AS predecessors FROM audit_events',
    );
    expect(predecessors).toBe(events);
  });

  it('should answer an anchor taken from an earlier verification', async () => {
    const first = await app.get('/v1/audit-events/verify');
    await makeClient(app);
    const later = await app.get('/v1/audit-events/verify', {
      query: { anchor_id: first.body.head_id, anchor_hash: first.body.head },
    });
    expect(later.body).toMatchObject({ ok: true });
    expect(BigInt(later.body.head_id)).toBeGreaterThan(BigInt(first.body.head_id));

    const wrong = await app.get('/v1/audit-events/verify', {
      query: { anchor_id: first.body.head_id, anchor_hash: 'f'.repeat(64) },
    });
    expect(wrong.body).toMatchObject({ ok: false, broken_at: first.body.head_id, problem: 'anchor_mismatch' });
  });

  it('should refuse half an anchor', async () => {
    const res = await app.get('/v1/audit-events/verify', { query: { anchor_id: '1' } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: 'query/anchor_hash' })]);
  });

  it('should let only root keys verify', async () => {
    const client = await makeClient(app);
    const auditor = await makeKey(app, client.id, { scopes: ['admin:audit:read'] });
    const res = await app.get('/v1/audit-events/verify', { key: auditor.key });
    expect(res.status).toBe(403);
    const list = await app.get('/v1/audit-events', { key: auditor.key });
    expect(list.status).toBe(200);
  });

  // Tampering inside a transaction that is rolled back: the verifier reads through it,
  // so this runs on the database of the run (PostgreSQL runs share one) without the
  // shared chain ever seeing a change.
  describe('inside a rolled-back transaction', () => {
    async function tampered(tamper: (m: EntityManager, rows: Row[]) => Promise<unknown>, batchSize?: number) {
      for (let i = 0; i < 4; i++) await makeClient(app);
      const verifier = app.app.get(AuditChainVerifier);
      let outcome!: { verdict: ChainVerdict; rows: Row[] };
      const rollback = new Error('rollback');
      await db
        .transaction(async (m) => {
          const rows = (
            await m.query<Row[]>(`SELECT ${COLUMNS.join(', ')} FROM audit_events ORDER BY id DESC LIMIT 4`)
          ).reverse();
          await tamper(m, rows);
          outcome = { verdict: await verifier.verify(undefined, m, batchSize), rows };
          throw rollback;
        })
        .catch((err: unknown) => {
          if (err !== rollback) throw err;
        });
      return outcome;
    }

    it('should name an edited event', async () => {
      const { verdict, rows } = await tampered((m, rows) =>
        m.query(`UPDATE audit_events SET changes = '{"name":"forged"}' WHERE id = $1`, [rows[1].id]),
      );
      expect(verdict).toMatchObject({ ok: false, brokenAt: String(rows[1].id), problem: 'hash_mismatch' });
    });

    it('should name the event after a deleted one, across batch boundaries', async () => {
      const { verdict, rows } = await tampered(
        (m, rows) => m.query('DELETE FROM audit_events WHERE id = $1', [rows[2].id]),
        3,
      );
      expect(verdict).toMatchObject({ ok: false, brokenAt: String(rows[3].id), problem: 'prev_hash_mismatch' });
    });

    it('should leave the chain intact once rolled back', async () => {
      expect((await app.get('/v1/audit-events/verify')).body).toMatchObject({ ok: true });
    });
  });
});

/**
 * Tampering that commits, on an app of its own with its own embedded database: a
 * broken chain in the database other suites share would fail their verifications.
 */
describe('audit chain tampering', () => {
  let db: DataSource;
  let pristine: Row[];

  const rows = () => db.query<Row[]>(`SELECT ${COLUMNS.join(', ')} FROM audit_events ORDER BY id`);
  const verify = async (query?: Record<string, string>) => {
    const res = await app.get('/v1/audit-events/verify', { query });
    expect(res.status).toBe(200);
    return res.body;
  };

  const app = useTestApp({ DATABASE_URL: undefined, REDIS_URL: undefined });
  beforeAll(async () => {
    db = app.app.get(DataSource);
    const client = await makeClient(app);
    const key = await makeKey(app, client.id);
    await app.post(`/v1/keys/${key.id}/rotate`, { grace_period_seconds: 60 });
    for (let i = 0; i < 5; i++) await makeClient(app);
    pristine = await rows();
    expect(pristine.length).toBeGreaterThanOrEqual(9);
  });

  afterEach(async () => {
    // Back to the untouched chain for the next case.
    await db.transaction(async (m) => {
      await m.query('DELETE FROM audit_events');
      for (const r of pristine) {
        await m.query(
          `INSERT INTO audit_events (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`,
          [...COLUMNS.slice(0, 9).map((c) => r[c]), JSON.stringify(r.changes), r.prev_hash, r.hash],
        );
      }
    });
    expect(await verify()).toMatchObject({ ok: true, checked: pristine.length });
  });

  const id = (i: number) => String(pristine[i].id);

  it('should verify the untouched chain and report its head', async () => {
    expect(await verify()).toEqual({
      ok: true,
      checked: pristine.length,
      head: pristine.at(-1)!.hash,
      head_id: id(pristine.length - 1),
    });
  });

  it('should name an event whose changes were edited', async () => {
    await db.query(`UPDATE audit_events SET changes = jsonb_set(changes, '{name}', '"forged"') WHERE id = $1`, [id(3)]);
    expect(await verify()).toEqual({ ok: false, checked: 3, broken_at: id(3), problem: 'hash_mismatch' });
  });

  it.each([
    ['actor_key_id', `'00000000-0000-4000-8000-000000000001'`],
    ['action', `'key.issued'`],
    ['occurred_at', `occurred_at - interval '1 second'`],
    ['source_ip', `'198.51.100.1'`],
    ['client_id', 'NULL'],
  ])('should name an event whose %s was edited', async (column, value) => {
    await db.query(`UPDATE audit_events SET ${column} = ${value} WHERE id = $1`, [id(4)]);
    expect(await verify()).toMatchObject({ ok: false, broken_at: id(4), problem: 'hash_mismatch' });
  });

  it('should name the next event when an edited event was re-hashed to look whole', async () => {
    await db.query(`UPDATE audit_events SET target_id = 'forged' WHERE id = $1`, [id(4)]);
    const [row] = await db.query<Row[]>(`SELECT ${COLUMNS.join(', ')} FROM audit_events WHERE id = $1`, [id(4)]);
    await db.query('UPDATE audit_events SET hash = $1 WHERE id = $2', [rehash(row), id(4)]);
    expect(await verify()).toEqual({ ok: false, checked: 5, broken_at: id(5), problem: 'prev_hash_mismatch' });
  });

  it('should name the event after a deleted one', async () => {
    await db.query('DELETE FROM audit_events WHERE id = $1', [id(5)]);
    expect(await verify()).toEqual({ ok: false, checked: 5, broken_at: id(6), problem: 'prev_hash_mismatch' });
  });

  it('should notice the first event deleted', async () => {
    await db.query('DELETE FROM audit_events WHERE id = $1', [id(0)]);
    expect(await verify()).toEqual({ ok: false, checked: 0, broken_at: id(1), problem: 'prev_hash_mismatch' });
  });

  it('should name the first of two events swapped', async () => {
    await db.transaction(async (m) => {
      await m.query('UPDATE audit_events SET id = -1 WHERE id = $1', [id(3)]);
      await m.query('UPDATE audit_events SET id = $1 WHERE id = $2', [id(3), id(6)]);
      await m.query('UPDATE audit_events SET id = $1 WHERE id = -1', [id(6)]);
    });
    expect(await verify()).toEqual({ ok: false, checked: 3, broken_at: id(3), problem: 'prev_hash_mismatch' });
  });

  it('should name a prev_hash rewritten to another event', async () => {
    await db.query('UPDATE audit_events SET prev_hash = $1 WHERE id = $2', [pristine[1].hash, id(3)]);
    expect(await verify()).toMatchObject({ ok: false, broken_at: id(3), problem: 'hash_mismatch' });
  });

  it('should catch the newest events cut off only with an anchor', async () => {
    const anchor = { anchor_id: id(pristine.length - 1), anchor_hash: pristine.at(-1)!.hash };
    await db.query('DELETE FROM audit_events WHERE id >= $1', [id(pristine.length - 2)]);
    expect(await verify()).toMatchObject({ ok: true, checked: pristine.length - 2 });
    expect(await verify(anchor)).toEqual({
      ok: false,
      checked: pristine.length - 2,
      broken_at: anchor.anchor_id,
      problem: 'anchor_missing',
    });
  });

  it('should catch a rewritten chain with an anchor', async () => {
    // An attacker who re-hashes every event after the edited one leaves a chain that links up.
    const all = await rows();
    all[2].target_id = 'forged';
    for (let i = 2; i < all.length; i++) {
      if (i > 2) all[i].prev_hash = all[i - 1].hash;
      all[i].hash = rehash(all[i]);
      await db.query('UPDATE audit_events SET target_id = $1, prev_hash = $2, hash = $3 WHERE id = $4', [
        all[i].target_id,
        all[i].prev_hash,
        all[i].hash,
        all[i].id,
      ]);
    }
    expect(await verify()).toMatchObject({ ok: true });
    const anchor = { anchor_id: id(pristine.length - 1), anchor_hash: pristine.at(-1)!.hash };
    expect(await verify(anchor)).toMatchObject({ ok: false, broken_at: anchor.anchor_id, problem: 'anchor_mismatch' });
  });
});
