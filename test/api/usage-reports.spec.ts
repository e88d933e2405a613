import { DataSource } from 'typeorm';
import { UsageRecorder } from '../../src/usage/usage-recorder';
import { makeClient, makeKey } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A fixed hour in the past, so explicit ranges do not depend on the clock. */
const T0 = Date.parse('2026-01-10T10:00:00Z');
const at = (ms: number) => new Date(ms).toISOString();

/**
 * Usage rows are written the way the hot path flushes them (one row per key, hour and
 * outcome, added to on conflict), straight through the app's data source.
 */
async function use(db: DataSource, keyId: string, bucketStart: number, outcome: string, count: number): Promise<void> {
  await db.query(
    `INSERT INTO usage_buckets (key_id, bucket_start, outcome, count) VALUES ($1, $2, $3, $4)
     ON CONFLICT (key_id, bucket_start, outcome) DO UPDATE SET count = usage_buckets.count + EXCLUDED.count`,
    [keyId, new Date(bucketStart), outcome, count],
  );
}

describe('usage reports', () => {
  let db: DataSource;
  let client: { id: string };
  let key: Awaited<ReturnType<typeof makeKey>>;
  let second: Awaited<ReturnType<typeof makeKey>>;
  let stranger: Awaited<ReturnType<typeof makeKey>>;

  const app = useTestApp();
  beforeAll(async () => {
    db = app.app.get(DataSource);
    client = await makeClient(app);
    key = await makeKey(app, client.id);
    second = await makeKey(app, client.id);
    const other = await makeClient(app);
    stranger = await makeKey(app, other.id);
    await use(db, key.id, T0, 'valid', 5);
    await use(db, key.id, T0, 'rate_limited', 1);
    await use(db, key.id, T0 + HOUR, 'valid', 3);
    await use(db, key.id, T0 + 25 * HOUR, 'valid', 2);
    await use(db, key.id, T0 + 25 * HOUR, 'insufficient_scope', 4);
    await use(db, second.id, T0 + HOUR, 'valid', 7);
    await use(db, stranger.id, T0 + HOUR, 'valid', 1000);
    await db.query('UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [new Date(T0 + 25 * HOUR + 60_000), key.id]);
  });

  describe('of a key', () => {
    it('should answer hour buckets with counts per outcome and totals', async () => {
      const res = await app.get(`/v1/keys/${key.id}/usage`, { query: { from: at(T0), to: at(T0 + 2 * HOUR) } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        key_id: key.id,
        granularity: 'hour',
        from: at(T0),
        to: at(T0 + 2 * HOUR),
        last_used_at: at(T0 + 25 * HOUR + 60_000),
        totals: { total: 9, outcomes: { valid: 8, rate_limited: 1 } },
        buckets: [
          { start: at(T0), total: 6, outcomes: { valid: 5, rate_limited: 1 } },
          { start: at(T0 + HOUR), total: 3, outcomes: { valid: 3 } },
        ],
      });
    });

    it('should sum hours into UTC days', async () => {
      const res = await app.get(`/v1/keys/${key.id}/usage`, {
        query: { from: '2026-01-10T00:00:00Z', to: '2026-01-12T00:00:00Z', granularity: 'day' },
      });
      expect(res.body.totals).toEqual({ total: 15, outcomes: { valid: 10, rate_limited: 1, insufficient_scope: 4 } });
      expect(res.body.buckets).toEqual([
        { start: '2026-01-10T00:00:00.000Z', total: 9, outcomes: { valid: 8, rate_limited: 1 } },
        { start: '2026-01-11T00:00:00.000Z', total: 6, outcomes: { valid: 2, insufficient_scope: 4 } },
      ]);
    });

    it('should widen a range to whole buckets and read times with offsets', async () => {
      // 11:30+01:00 is 10:30Z: the 10:00 bucket is included, and `to` rounds up to 12:00.
      const res = await app.get(`/v1/keys/${key.id}/usage`, {
        query: { from: '2026-01-10T11:30:00+01:00', to: '2026-01-10T11:15:00Z' },
      });
      expect(res.body).toMatchObject({ from: at(T0), to: at(T0 + 2 * HOUR), totals: { total: 9 } });
    });

    it('should leave out buckets after the range', async () => {
      const res = await app.get(`/v1/keys/${key.id}/usage`, { query: { from: at(T0 + HOUR), to: at(T0 + 2 * HOUR) } });
      expect(res.body.totals).toEqual({ total: 3, outcomes: { valid: 3 } });
    });

    it('should default to the last 24 hours of hour buckets', async () => {
      const before = Date.now();
      const res = await app.get(`/v1/keys/${key.id}/usage`);
      expect(res.status).toBe(200);
      const from = Date.parse(res.body.from);
      const to = Date.parse(res.body.to);
      expect(res.body.granularity).toBe('hour');
      expect(to).toBeGreaterThanOrEqual(before);
      expect(to - from).toBeGreaterThanOrEqual(DAY);
      expect(to - from).toBeLessThanOrEqual(DAY + HOUR);
      expect(res.body.totals).toEqual({ total: 0, outcomes: {} });
      expect(res.body.buckets).toEqual([]);
    });

    it('should take 31 days of hours and 366 of days', async () => {
      const hours = await app.get(`/v1/keys/${key.id}/usage`, { query: { from: at(T0), to: at(T0 + 31 * DAY) } });
      const days = await app.get(`/v1/keys/${key.id}/usage`, {
        query: { from: at(T0), to: at(T0 + 366 * DAY), granularity: 'day' },
      });
      expect([hours.status, days.status]).toEqual([200, 200]);
      expect(hours.body.totals.total).toBe(15);
    });

    it.each([
      ['from after to', { from: at(T0 + HOUR), to: at(T0) }, 'query/from'],
      ['from equal to to', { from: at(T0), to: at(T0) }, 'query/from'],
      ['a day that does not exist', { from: '2026-02-30T00:00:00Z', to: '2026-03-05T00:00:00Z' }, '#/from'],
      ['a year before 1970', { from: '0000-01-01T00:00:00Z', to: '1970-01-02T00:00:00Z' }, '#/from'],
      ['the year 9999', { from: '9998-12-31T22:00:00Z', to: '9999-01-01T00:00:00Z' }, '#/to'],
      ['more than 31 days of hours', { from: at(T0), to: at(T0 + 31 * DAY + 1000) }, 'query/to'],
      ['more than 366 days of days', { from: at(T0), to: at(T0 + 367 * DAY), granularity: 'day' }, 'query/to'],
      ['a from in the future without a to', { from: at(Date.now() + DAY) }, 'query/from'],
    ])('should refuse %s with a problem naming the field', async (_, query, pointer) => {
      const res = await app.get(`/v1/keys/${key.id}/usage`, { query: query });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.errors).toEqual([expect.objectContaining({ pointer })]);
    });

    it.each([
      [
        'hours',
        { from: '9998-12-31T22:00:00Z', to: '9998-12-31T23:30:00Z' },
        '9998-12-31T22:00:00.000Z',
        '9999-01-01T00:00:00.000Z',
      ],
      [
        'days',
        { from: '9998-12-01T12:00:00Z', to: '9998-12-31T23:59:59.999Z', granularity: 'day' },
        '9998-12-01T00:00:00.000Z',
        '9999-01-01T00:00:00.000Z',
      ],
      ['hours at the start', { to: '1970-01-01T00:30:00Z' }, '1969-12-31T00:00:00.000Z', '1970-01-01T01:00:00.000Z'],
    ])(
      'should answer a range of %s at the ends of the years it takes, rounded to whole buckets',
      async (_, query, from, to) => {
        const res = await app.get(`/v1/keys/${key.id}/usage`, { query: query });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ from, to, buckets: [] });
      },
    );

    it.each([
      ['a date that is no date', { from: 'yesterday' }],
      ['a time without an offset', { from: '2026-01-10T10:00:00' }],
      ['an unknown granularity', { granularity: 'minute' }],
      ['an unknown parameter', { limit: '10' }],
    ])('should refuse %s', async (_, query) => {
      const res = await app.get(`/v1/keys/${key.id}/usage`, { query });
      expect(res.status).toBe(400);
    });

    it("should hide another client's key from a client's own admin key, and show its own", async () => {
      const admin = await makeKey(app, client.id, { scopes: ['admin:keys:read'] });
      expect((await app.get(`/v1/keys/${stranger.id}/usage`, { key: admin.key })).status).toBe(404);
      const own = await app.get(`/v1/keys/${key.id}/usage`, {
        key: admin.key,
        query: { from: at(T0), to: at(T0 + DAY) },
      });
      expect(own.status).toBe(200);
      expect(own.body.totals.total).toBe(9);
    });

    it('should answer 404 for a key that does not exist, and 403 without admin:keys:read', async () => {
      expect((await app.get('/v1/keys/6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11/usage')).status).toBe(404);
      const writerOnly = await makeKey(app, client.id, { scopes: ['admin:clients:read'] });
      expect((await app.get(`/v1/keys/${key.id}/usage`, { key: writerOnly.key })).status).toBe(403);
    });
  });

  describe('of a client', () => {
    it("should sum its keys' buckets, with each key's totals, busiest first", async () => {
      const res = await app.get(`/v1/clients/${client.id}/usage`, { query: { from: at(T0), to: at(T0 + 2 * DAY) } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        client_id: client.id,
        granularity: 'hour',
        last_used_at: at(T0 + 25 * HOUR + 60_000),
        totals: { total: 22, outcomes: { valid: 17, rate_limited: 1, insufficient_scope: 4 } },
        buckets: [
          { start: at(T0), total: 6, outcomes: { valid: 5, rate_limited: 1 } },
          { start: at(T0 + HOUR), total: 10, outcomes: { valid: 10 } },
          { start: at(T0 + 25 * HOUR), total: 6, outcomes: { valid: 2, insufficient_scope: 4 } },
        ],
      });
      expect(res.body.keys).toEqual([
        {
          key_id: key.id,
          name: key.name,
          hint: key.hint,
          last_used_at: at(T0 + 25 * HOUR + 60_000),
          totals: { total: 15, outcomes: { valid: 10, rate_limited: 1, insufficient_scope: 4 } },
        },
        {
          key_id: second.id,
          name: second.name,
          hint: second.hint,
          last_used_at: null,
          totals: { total: 7, outcomes: { valid: 7 } },
        },
      ]);
    });

    it('should answer an empty report for a range without calls', async () => {
      const res = await app.get(`/v1/clients/${client.id}/usage`, {
        query: { from: at(T0 - 2 * DAY), to: at(T0 - DAY) },
      });
      expect(res.body).toMatchObject({ totals: { total: 0, outcomes: {} }, buckets: [], keys: [] });
    });

    it("should let a client's own admin key see its client and nobody else's", async () => {
      const admin = await makeKey(app, client.id, { scopes: ['admin:keys:read'] });
      const own = await app.get(`/v1/clients/${client.id}/usage`, {
        key: admin.key,
        query: { from: at(T0), to: at(T0 + DAY) },
      });
      expect(own.status).toBe(200);
      expect(own.body.totals.total).toBe(16);
      expect((await app.get(`/v1/clients/${stranger.client_id}/usage`, { key: admin.key })).status).toBe(404);
      expect((await app.get('/v1/clients/6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11/usage')).status).toBe(404);
    });
  });
});

describe('rotation visibility', () => {
  let db: DataSource;
  const app = useTestApp();
  beforeAll(async () => {
    db = app.app.get(DataSource);
  });

  it("should show a rotated key's use since the rotation, until callers have moved to the successor", async () => {
    const client = await makeClient(app);
    const old = await makeKey(app, client.id);
    expect(old.used_since_rotation).toBeNull();
    const rotatedAt = Date.now();
    const rotated = await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 3600 });
    expect(rotated.status).toBe(201);
    expect(rotated.body.used_since_rotation).toBeNull();
    const successor = rotated.body;
    const hour = Math.floor(rotatedAt / HOUR) * HOUR;
    const view = async () => (await app.get(`/v1/keys/${old.id}`)).body;

    // Calls before the hour of the rotation are not use since the rotation.
    await use(db, old.id, hour - HOUR, 'valid', 100);
    const fresh = await view();
    expect(fresh).toMatchObject({ status: 'expiring', replaced_by: successor.id, grace_ends_at: expect.any(String) });
    expect(fresh.used_since_rotation).toEqual({
      rotated_at: successor.created_at,
      counted_from: at(hour),
      count: 0,
      last_used_at: null,
    });

    // Callers still on the old key.
    await use(db, old.id, hour, 'valid', 10);
    await use(db, old.id, hour + HOUR, 'valid', 3);
    await use(db, old.id, hour + HOUR, 'insufficient_scope', 1);
    const lastOldCall = new Date(Date.now() + 1000);
    await db.query('UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [lastOldCall, old.id]);
    expect((await view()).used_since_rotation).toMatchObject({ count: 14, last_used_at: lastOldCall.toISOString() });

    // Callers switch: from the third hour on only the successor is used.
    await use(db, successor.id, hour + 2 * HOUR, 'valid', 20);
    await use(db, successor.id, hour + 3 * HOUR, 'valid', 25);
    expect((await view()).used_since_rotation).toMatchObject({ count: 14, last_used_at: lastOldCall.toISOString() });
    const window = { from: at(hour + 2 * HOUR), to: at(hour + 4 * HOUR) };
    const oldSince = await app.get(`/v1/keys/${old.id}/usage`, { query: window });
    const newSince = await app.get(`/v1/keys/${successor.id}/usage`, { query: window });
    expect(oldSince.body.totals).toEqual({ total: 0, outcomes: {} });
    expect(oldSince.body.buckets).toEqual([]);
    expect(newSince.body.totals).toEqual({ total: 45, outcomes: { valid: 45 } });

    // The list shows the same, and nothing for the successor, which was never rotated.
    const list = await app.get('/v1/keys', { query: { client_id: client.id } });
    const byId = new Map(list.body.data.map((k: { id: string }) => [k.id, k]));
    expect(byId.get(old.id)).toMatchObject({ used_since_rotation: { count: 14 } });
    expect(byId.get(successor.id)).toMatchObject({ used_since_rotation: null });

    // The operator revokes it early; the answer keeps the record.
    const revoked = await app.post(`/v1/keys/${old.id}/revoke`, { reason: 'callers moved' });
    expect(revoked.body).toMatchObject({ status: 'revoked', used_since_rotation: { count: 14 } });
  });

  it('should count real introspections of the old key, and stop when callers use the successor', async () => {
    const client = await makeClient(app);
    const old = await makeKey(app, client.id);
    const successor = (await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 3600 })).body;
    const introspect = async (token: string, scope?: string) => {
      const res = await app.post('/v1/introspect', { token, ...(scope ? { scope } : {}) });
      expect(res.status).toBe(200);
      return res.body;
    };
    const flushed = () => app.app.get(UsageRecorder).flush();

    for (let i = 0; i < 3; i++) expect(await introspect(old.key)).toMatchObject({ active: true });
    expect(await introspect(old.key, 'payments:refund')).toMatchObject({ active: false, reason: 'insufficient_scope' });
    await flushed();
    const during = (await app.get(`/v1/keys/${old.id}`)).body.used_since_rotation;
    expect(during).toMatchObject({ count: 4, last_used_at: expect.any(String) });
    expect(Date.parse(during.last_used_at)).toBeGreaterThanOrEqual(Date.parse(during.rotated_at));
    const report = await app.get(`/v1/keys/${old.id}/usage`);
    expect(report.body.totals).toEqual({ total: 4, outcomes: { valid: 3, insufficient_scope: 1 } });

    for (let i = 0; i < 5; i++) expect(await introspect(successor.key)).toMatchObject({ active: true });
    await flushed();
    expect((await app.get(`/v1/keys/${old.id}`)).body.used_since_rotation).toEqual(during);
    expect((await app.get(`/v1/keys/${successor.id}/usage`)).body.totals).toEqual({ total: 5, outcomes: { valid: 5 } });
  });

  it('should not count a last use from before the rotation', async () => {
    const client = await makeClient(app);
    const old = await makeKey(app, client.id);
    await db.query('UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [new Date(Date.now() - 60_000), old.id]);
    await app.post(`/v1/keys/${old.id}/rotate`, { grace_period_seconds: 60 });
    const view = await app.get(`/v1/keys/${old.id}`);
    expect(view.body.last_used_at).not.toBeNull();
    expect(view.body.used_since_rotation).toMatchObject({ last_used_at: null });
  });
});
