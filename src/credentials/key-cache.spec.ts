import { Environment } from '../config/config';
import { KeyCache } from './key-cache';
import type { KeyRecord } from './key-record';

const record = { keyId: 'k' } as KeyRecord;

describe('KeyCache', () => {
  it('should let go of expired entries without their keys being asked for again', async () => {
    const cache = new KeyCache(Object.assign(new Environment(), { CACHE_TTL_MS: 50, CACHE_NEGATIVE_TTL_MS: 50 }));
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
