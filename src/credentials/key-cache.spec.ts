import { AppConfig } from '../config/config';
import { KeyCache } from './key-cache';
import type { KeyRecord } from './key-record';

const record = { keyId: 'k' } as KeyRecord;

describe('KeyCache', () => {
  const caches: KeyCache[] = [];
  const make = () => {
    const cache = new KeyCache(Object.assign(new AppConfig(), { CACHE_TTL_MS: 60_000 }));
    caches.push(cache);
    return cache;
  };
  afterAll(() => caches.forEach((c) => c.onModuleDestroy()));

  it('should keep a read out of the cache when its own key changed while it was under way', () => {
    const cache = make();
    const startedAt = cache.begin();
    cache.invalidateDigest('a');
    cache.set('a', record, startedAt);
    expect(cache.get('a')).toBeUndefined();
    // A read begun after the change is stored.
    cache.set('a', record, cache.begin());
    expect(cache.get('a')).toBe(record);
  });

  it('should store a read when only other keys changed while it was under way', () => {
    const cache = make();
    const startedAt = cache.begin();
    cache.invalidateDigest('b');
    cache.invalidateDigest('c');
    cache.set('a', record, startedAt);
    expect(cache.get('a')).toBe(record);
    expect(cache.current('a', startedAt)).toBe(true);
    expect(cache.current('b', startedAt)).toBe(false);
  });

  it('should keep every read under way out of the cache after a client change or a clear', () => {
    for (const change of [(c: KeyCache) => c.invalidateClient('some-client'), (c: KeyCache) => c.clear()]) {
      const cache = make();
      const startedAt = cache.begin();
      change(cache);
      cache.set('a', record, startedAt);
      expect(cache.get('a')).toBeUndefined();
    }
  });

  it('should treat a change to one key as a change to all once too many keys changed', () => {
    const cache = make();
    const startedAt = cache.begin();
    for (let i = 0; i < 10_000; i++) cache.invalidateDigest(`other-${i}`);
    expect(cache.current('a', startedAt)).toBe(true);
    cache.invalidateDigest('one-more');
    expect(cache.current('a', startedAt)).toBe(false);
  });

  it('should let go of expired entries without their keys being asked for again', async () => {
    const cache = new KeyCache(Object.assign(new AppConfig(), { CACHE_TTL_MS: 50, CACHE_NEGATIVE_TTL_MS: 50 }));
    try {
      for (let i = 0; i < 100; i++) cache.set(`digest-${i}`, i % 2 ? record : null, cache.begin());
      expect(cache.size).toBe(100);
      // The sweep runs once per TTL, but not more often than once a second.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(cache.size).toBe(0);
      expect(cache.stats.misses).toBe(0);
    } finally {
      cache.onModuleDestroy();
    }
  });
});
