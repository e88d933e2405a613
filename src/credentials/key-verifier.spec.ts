import 'reflect-metadata';
import { DatabaseUnavailable } from '../common/errors';
import { AppConfig } from '../config/config';
import type { DigestMover } from './digest-mover';
import { KeyCache } from './key-cache';
import { KeyDigest } from './key-digest';
import type { FoundKeyRow, KeyRow, KeysRepository } from '../store/keys.repository';
import { generateKey } from './key-format';
import type { KeyRecord } from './key-record';
import { KeyVerifier } from './key-verifier';

const DIGEST = 'd'.repeat(64);

function keyRow(): KeyRow {
  return {
    id: '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11',
    client_id: '0b7e7dc4-1b4e-4c53-a7b2-6f2e8f2f4c11',
    client_status: 'active',
    is_system: false,
    environment: 'live',
    name: 'checkout',
    scopes: ['orders:read'],
    created_at: new Date(),
    expires_at: null,
    revoked_at: null,
    grace_ends_at: null,
    rate_limit: null,
    rate_window_seconds: null,
    ip_allowlist: [],
    usage_limit: null,
    metadata: {},
  };
}

/** A verifier over a fake repository whose queries wait until the test answers them. */
function setUp(overrides: Partial<AppConfig> = {}) {
  const env = Object.assign(new AppConfig(), { KEY_HASH_SECRET: 'x'.repeat(40), DATA_DIR: 'memory://' }, overrides);
  const waiting: { resolve: (rows: KeyRow[]) => void; reject: (err: Error) => void }[] = [];
  const query = jest.fn(
    (_digest: string) =>
      new Promise<{ rows: KeyRow[]; rowCount: number }>((resolve, reject) =>
        waiting.push({ resolve: (rows) => resolve({ rows, rowCount: rows.length }), reject }),
      ),
  );
  const anyQuery = jest.fn(
    (digests: string[]) =>
      new Promise<{ rows: FoundKeyRow[]; rowCount: number }>((resolve, reject) =>
        waiting.push({
          resolve: (rows) => {
            // What the database does: the row whose digest is among those asked for.
            const found = (rows as FoundKeyRow[]).filter((r) => digests.includes(r.found_digest));
            resolve({ rows: found, rowCount: found.length });
          },
          reject,
        }),
      ),
  );
  const keys = {
    findRecordRowByDigest: (digest: string) => query(digest).then(({ rows }) => rows[0]),
    findRecordRowByDigests: (digests: string[]) => anyQuery(digests).then(({ rows }) => rows[0]),
  } as unknown as KeysRepository;
  const cache = new KeyCache(env);
  const digest = new KeyDigest(env);
  const mover = { enqueue: jest.fn() };
  const sut = new KeyVerifier(keys, digest, cache, mover as unknown as DigestMover);
  const answer = (rows: (KeyRow | FoundKeyRow)[]) => waiting.splice(0).forEach((q) => q.resolve(rows));
  const fail = () => waiting.splice(0).forEach((q) => q.reject(new Error('connection refused')));
  return { sut, cache, query, anyQuery, answer, fail, digest, mover };
}

describe(KeyVerifier.name, () => {
  describe('find', () => {
    it('should send one query for concurrent misses of one key', async () => {
      const { sut, query, answer } = setUp();
      const lookups = Array.from({ length: 20 }, () => sut.find(DIGEST) as Promise<KeyRecord | null>);
      answer([keyRow()]);
      const records = await Promise.all(lookups);
      expect(query).toHaveBeenCalledTimes(1);
      expect(records.map((r) => r?.name)).toEqual(Array(20).fill('checkout'));
    });

    it('should not join a query begun before a change was announced', async () => {
      const { sut, cache, query, answer } = setUp();
      const before = sut.find(DIGEST);
      cache.invalidateDigest(DIGEST);
      const after = sut.find(DIGEST);
      answer([keyRow()]);
      await Promise.all([before, after]);
      expect(query).toHaveBeenCalledTimes(2);
    });

    it('should query for every lookup when the cache is off', async () => {
      const { sut, query, answer } = setUp({ CACHE_TTL_MS: 0 });
      const lookups = [sut.find(DIGEST), sut.find(DIGEST), sut.find(DIGEST)] as Promise<unknown>[];
      answer([keyRow()]);
      await Promise.all(lookups);
      expect(query).toHaveBeenCalledTimes(3);
    });

    it('should give every waiter the database error, then query again', async () => {
      const { sut, query, answer, fail } = setUp();
      const lookups = [sut.find(DIGEST), sut.find(DIGEST)];
      fail();
      for (const lookup of lookups) await expect(lookup).rejects.toBeInstanceOf(DatabaseUnavailable);
      const retry = sut.find(DIGEST);
      answer([]);
      await expect(retry).resolves.toBeNull();
      expect(query).toHaveBeenCalledTimes(2);
    });
  });

  describe('revocation', () => {
    it('should hold a revoked key revoked on an instance whose clock is behind the revocation', async () => {
      const { sut, answer } = setUp();
      const token = generateKey('live');
      const revokedAt = Date.now();
      const first = sut.verify(token, {}, revokedAt - 2_000);
      answer([{ ...keyRow(), revoked_at: new Date(revokedAt) }]);
      await expect(first).resolves.toMatchObject({ active: false, reason: 'revoked' });
      // From the cache too, at every clock offset.
      for (const behind of [1, 2_000, 60_000, 86_400_000]) {
        expect(sut.verifyNow(token, {}, revokedAt - behind)).toMatchObject({ active: false, reason: 'revoked' });
      }
    });
  });

  describe('with several digest secrets (KEY_HASH_SECRETS)', () => {
    const NEW = '2026b:' + 'N7q2Vx9Lm4Kp8Rt3Wz6Yb1Hc5Jd0Fg2S';
    const OLD = '2026a:' + 'P3k8Wq1Zr6Tn4Yv9Xm2Lb7Hc5Jd0Fg2Q';

    it('should make one digest and one query of the current secret when only one is configured', async () => {
      const { sut, digest, query, anyQuery, answer } = setUp();
      const others = jest.spyOn(digest, 'others');
      const verdict = sut.verifyNow(generateKey('live'));
      answer([]);
      expect(await verdict).toMatchObject({ active: false, reason: 'not_found' });
      expect(others).not.toHaveBeenCalled();
      expect(query).toHaveBeenCalledTimes(1);
      expect(anyQuery).not.toHaveBeenCalled();
    });

    it('should look an unknown key up under every secret in one query, and cache that it is unknown', async () => {
      const { sut, digest, query, anyQuery, answer } = setUp({
        KEY_HASH_SECRET: undefined,
        KEY_HASH_SECRETS: `${NEW},${OLD}`,
      });
      const token = generateKey('live');
      const first = sut.verifyNow(token);
      answer([]);
      expect(await first).toMatchObject({ active: false, reason: 'not_found' });
      expect(query).not.toHaveBeenCalled();
      expect(anyQuery).toHaveBeenCalledTimes(1);
      expect(anyQuery.mock.calls[0][0]).toEqual([digest.of(token), ...digest.others(token)]);
      expect(new Set(anyQuery.mock.calls[0][0]).size).toBe(2);
      expect(sut.verifyNow(token)).toMatchObject({ active: false, reason: 'not_found' });
      expect(anyQuery).toHaveBeenCalledTimes(1);
    });

    it('should verify a key found under an older secret and queue its move to the current one, without waiting for it', async () => {
      const { sut, digest, anyQuery, answer, mover } = setUp({
        KEY_HASH_SECRET: undefined,
        KEY_HASH_SECRETS: `${NEW},${OLD}`,
      });
      const token = generateKey('live');
      const [older] = digest.others(token);
      const verdict = sut.verifyNow(token);
      answer([{ ...keyRow(), found_digest: older }]);
      expect(await verdict).toMatchObject({ active: true, record: { name: 'checkout' } });
      expect(mover.enqueue).toHaveBeenCalledWith(keyRow().id, older, digest.of(token));
      expect(digest.currentId).toBe('2026b');
      // Cached under the current digest: the next call asks nothing.
      expect(sut.verifyNow(token)).toMatchObject({ active: true });
      expect(anyQuery).toHaveBeenCalledTimes(1);
    });

    it('should not queue a move for a key already under the current secret', async () => {
      const { sut, digest, answer, mover } = setUp({ KEY_HASH_SECRET: undefined, KEY_HASH_SECRETS: `${NEW},${OLD}` });
      const token = generateKey('live');
      const verdict = sut.verifyNow(token);
      answer([{ ...keyRow(), found_digest: digest.of(token) }]);
      expect(await verdict).toMatchObject({ active: true });
      expect(mover.enqueue).not.toHaveBeenCalled();
    });

    it('should drop the cached key when a change is announced under its older digest', async () => {
      const { sut, digest, cache, anyQuery, answer } = setUp({
        KEY_HASH_SECRET: undefined,
        KEY_HASH_SECRETS: `${NEW},${OLD}`,
      });
      const token = generateKey('live');
      const [older] = digest.others(token);
      const first = sut.verifyNow(token);
      answer([{ ...keyRow(), found_digest: older }]);
      await first;
      cache.invalidateDigest(older); // the key's row, still under the older digest, was revoked
      const again = sut.verifyNow(token);
      expect(again).toBeInstanceOf(Promise);
      answer([{ ...keyRow(), revoked_at: new Date(Date.now() - 1000), found_digest: older }]);
      expect(await again).toMatchObject({ active: false, reason: 'revoked' });
      expect(anyQuery).toHaveBeenCalledTimes(2);
    });
  });
});
