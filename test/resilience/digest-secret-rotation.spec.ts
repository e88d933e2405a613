import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { KeysRepository } from '../../src/store/keys.repository';
import { makeClient, makeKey } from '../support/factories';
import { TestApp, usingPostgres } from '../support/test-app';
import { createThrowawayDatabase } from '../support/throwaway-database';

/**
 * Rotating the digest secret (KEY_HASH_SECRETS), as docs/operations.md tells an operator to:
 * keys issued under the old secret keep working once a new one is current, each is moved to
 * the new one when it is used, the counts per secret show what still depends on the old one,
 * and once it is retired only the keys never used since are unknown. On one database that
 * outlives the instances: a folder of its own (embedded), or a throwaway PostgreSQL database.
 */
const OLD = 'P3k8Wq1Zr6Tn4Yv9Xm2Lb7Hc5Jd0Fg2Q';
const NEW = 'N7q2Vx9Lm4Kp8Rt3Wz6Yb1Hc5Jd0Fg2S';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`digest secret rotation (${usingPostgres ? 'PostgreSQL' : 'embedded'})`, () => {
  let place: Record<string, string>;
  let cleanUp: () => Promise<void>;
  const open: TestApp[] = [];

  beforeAll(async () => {
    if (usingPostgres) {
      const db = await createThrowawayDatabase(process.env.DATABASE_URL!);
      place = { DATABASE_URL: db.url };
      cleanUp = db.drop;
    } else {
      const folder = mkdtempSync(join(tmpdir(), 'keyhouse-rotation-'));
      place = { DATA_DIR: folder };
      cleanUp = async () => rmSync(folder, { recursive: true, force: true });
    }
  });

  afterAll(async () => {
    for (const app of open.splice(0)) await app.close();
    await cleanUp();
  });

  async function start(secrets: string): Promise<TestApp> {
    const app = await TestApp.start({ ...place, KEY_HASH_SECRET: undefined, KEY_HASH_SECRETS: secrets });
    open.push(app);
    return app;
  }
  async function stop(app: TestApp): Promise<void> {
    open.splice(open.indexOf(app), 1);
    await app.close();
  }

  const introspect = async (app: TestApp, token: string) => {
    const res = await app.post('/v1/introspect', { token });
    expect(res.status).toBe(200);
    return res.body.active ? 'valid' : (res.body.reason as string);
  };
  const secretOf = async (app: TestApp, keyId: string) => {
    const [row] = await app.app
      .get(DataSource)
      .query<{ digest_secret: string }[]>('SELECT digest_secret FROM api_keys WHERE id = $1', [keyId]);
    return row.digest_secret;
  };
  /** keyhouse_keys_by_digest_secret as {"<secret>/<state>": count}. */
  const counts = async (app: TestApp) => {
    const res = await app.get('/metrics', { key: null, listener: 'management' });
    expect(res.status).toBe(200);
    const found: Record<string, number> = {};
    for (const [, secret, state, value] of res.raw.matchAll(
      /^keyhouse_keys_by_digest_secret\{secret="([^"]+)",state="([^"]+)"\} (\d+)$/gm,
    ))
      found[`${secret}/${state}`] = Number(value);
    return found;
  };
  async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
    const deadline = Date.now() + 20_000; // beyond CACHE_TTL_MS: a cached key is looked up (and moved) again
    for (;;) {
      const value = await probe();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
      await sleep(50);
    }
  }

  it('should verify under the old secret, move used keys to the new one, and after retiring know only those', async () => {
    // Before: the one-secret form (KEY_HASH_SECRET=OLD is KEY_HASH_SECRETS=initial:OLD).
    const before = await start(`initial:${OLD}`);
    const client = await makeClient(before);
    const used = await makeKey(before, client.id);
    const idle = await makeKey(before, client.id);
    const revoked = await makeKey(before, client.id);
    const left = await makeKey(before, client.id);
    expect(await introspect(before, used.key)).toBe('valid');
    expect(await secretOf(before, used.id)).toBe('initial');
    expect(await counts(before)).toEqual({ 'initial/current': 5 }); // the root key and four
    await stop(before);

    // Rotate: the new secret first, the old one still verifying.
    const rotated = await start(`2026b:${NEW},initial:${OLD}`);
    expect(await introspect(rotated, used.key)).toBe('valid');
    expect(await introspect(rotated, idle.key)).toBe('valid');
    await until(
      'the used keys moved',
      () => secretOf(rotated, used.id),
      (s) => s === '2026b',
    );
    expect(await secretOf(rotated, idle.id)).toBe('2026b');
    expect(await secretOf(rotated, revoked.id)).toBe('initial');
    const issued = await makeKey(rotated, client.id);
    expect(await secretOf(rotated, issued.id)).toBe('2026b');
    // The calls moved root too (they were made with it): two keys never used since depend on the old secret; a revoked one counts no more.
    expect(await counts(rotated)).toEqual({ '2026b/current': 4, 'initial/older': 2 });
    expect((await rotated.post(`/v1/keys/${revoked.id}/revoke`, { reason: 'rotation test' })).status).toBe(200);
    expect(await counts(rotated)).toEqual({ '2026b/current': 4, 'initial/older': 1 });
    expect(await introspect(rotated, used.key)).toBe('valid'); // now under the new secret, from the database again
    const neverUsed = await makeKey(rotated, client.id);
    await stop(rotated);

    // Retire the old secret: keys moved or issued since work; the one never used since is unknown, and counted.
    const retired = await start(`2026b:${NEW}`);
    expect(await counts(retired)).toEqual({ '2026b/current': 5, 'initial/unconfigured': 1 });
    expect(await introspect(retired, used.key)).toBe('valid');
    expect(await introspect(retired, idle.key)).toBe('valid');
    expect(await introspect(retired, issued.key)).toBe('valid');
    expect(await introspect(retired, neverUsed.key)).toBe('valid');
    expect(await introspect(retired, left.key)).toBe('not_found');
    expect((await retired.post('/v1/keys/leaked', { key: left.key, source: 'test' })).body).toMatchObject({
      matched: false,
    });
    await stop(retired);

    // Put back, the old secret makes its keys good again.
    const restored = await start(`2026b:${NEW},initial:${OLD}`);
    expect(await introspect(restored, left.key)).toBe('valid');
    await stop(restored);
  }, 180_000);

  it('should move a key at most once, whoever moves it: a move from a digest the row no longer has writes nothing', async () => {
    const app = await start(`2026c:${NEW},2026b:${OLD}`);
    const client = await makeClient(app);
    const key = await makeKey(app, client.id);
    const repository = app.app.get(KeysRepository);
    const [row] = await app.app
      .get(DataSource)
      .query<{ digest: string }[]>('SELECT digest FROM api_keys WHERE id = $1', [key.id]);
    const move = { keyId: key.id, from: row.digest, to: 'e'.repeat(64), secretId: '2026x' };
    const results = await Promise.all([
      repository.moveDigests([move]),
      repository.moveDigests([{ ...move, to: 'f'.repeat(64) }]),
    ]);
    expect(results.sort()).toEqual([0, 1]);
    expect(await repository.moveDigests([move])).toBe(0);
    await stop(app);
  });

  (usingPostgres ? it : it.skip)(
    'should keep every key good on two instances during a rolling change (one with the new secret first, one with it second)',
    async () => {
      // Step 1 of the procedure everywhere: the new secret known, the old one still current.
      const a = await start(`2026a:${OLD},2026b:${NEW}`);
      const client = await makeClient(a);
      const keys = await Promise.all(Array.from({ length: 4 }, () => makeKey(a, client.id)));
      // Step 2, rolling: b has the new one first, a not yet.
      const b = await start(`2026b:${NEW},2026a:${OLD}`);
      for (let round = 0; round < 3; round++)
        for (const key of keys) {
          expect(await introspect(b, key.key)).toBe('valid');
          expect(await introspect(a, key.key)).toBe('valid');
        }
      const late = await makeKey(b, client.id);
      expect(await introspect(a, late.key)).toBe('valid');
      expect((await a.post(`/v1/keys/${keys[0].id}/revoke`, { reason: 'rolling' })).status).toBe(200);
      await until(
        'the revocation seen by b',
        () => introspect(b, keys[0].key),
        (r) => r === 'revoked',
      );
      await stop(a);
      // Once every instance runs step 2 the moves settle: each key used again ends on 2026b.
      const live = keys.slice(1);
      await until(
        'every key used again moved to 2026b',
        async () => {
          for (const key of live) expect(await introspect(b, key.key)).toBe('valid');
          return Promise.all(live.map((k) => secretOf(b, k.id)));
        },
        (secrets) => secrets.every((id) => id === '2026b'),
      );
      await stop(b);
    },
    120_000,
  );
});
