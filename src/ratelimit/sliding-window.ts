import { LRUCache } from 'lru-cache';

/** A key's limit: at most `limit` admitted calls in any window of `windowSeconds`. */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Calls still admitted right now (0 when refused). */
  remaining: number;
  /** Milliseconds until `remaining` next goes up; when refused, until a call is admitted again. */
  resetMs: number;
}

/**
 * Each window is cut into this many sub-buckets. A decision counts the current bucket
 * and the `BUCKETS` before it, a span of at least one window, so no window of the
 * configured length ever admits more than the limit (no doubling at window edges).
 * The price: a caller may be held back up to one bucket (1/20 of the window) longer
 * than an exact sliding log would. 20 divides 1000, so buckets are whole milliseconds.
 */
export const BUCKETS = 20;

/** Per-bucket counts of one key, oldest first: `[bucket index, count]`. */
export type Counts = Array<[number, number]>;

/**
 * The sliding-window decision over `counts` (pruned in place), admitting the call by
 * adding it to the current bucket. The Redis script does exactly this, atomically.
 */
export function decide(counts: Counts, { limit, windowSeconds }: RateLimit, now: number): RateDecision {
  const size = (windowSeconds * 1000) / BUCKETS;
  const current = Math.floor(now / size);
  const oldest = current - BUCKETS;
  while (counts.length > 0 && counts[0][0] < oldest) counts.shift();
  let total = 0;
  for (const [, count] of counts) total += count;
  const leavesAt = (bucket: number) => (bucket + BUCKETS + 1) * size - now;
  if (total < limit) {
    const last = counts[counts.length - 1];
    if (last && last[0] === current) last[1]++;
    else counts.push([current, 1]);
    return { allowed: true, limit, remaining: limit - total - 1, resetMs: leavesAt(counts[0][0]) };
  }
  let left = total;
  for (const [bucket, count] of counts) {
    left -= count;
    if (left < limit) return { allowed: false, limit, remaining: 0, resetMs: leavesAt(bucket) };
  }
  return { allowed: false, limit, remaining: 0, resetMs: windowSeconds * 1000 };
}

/** How many keys' windows one instance keeps in memory; the least recently used go first. */
const MAX_TRACKED_KEYS = 200_000;

/** Sliding windows in this process's memory: the limiter without Redis, and the fallback when Redis is unreachable. */
export class MemoryWindows {
  private readonly windows = new LRUCache<string, Counts>({ max: MAX_TRACKED_KEYS, ttlAutopurge: false });

  consume(id: string, limit: RateLimit, now = Date.now()): RateDecision {
    const name = `${id}:${limit.windowSeconds}`;
    let counts = this.windows.get(name);
    if (!counts) {
      counts = [];
      this.windows.set(name, counts, { ttl: limit.windowSeconds * 1000 * (1 + 2 / BUCKETS) });
    }
    const decision = decide(counts, limit, now);
    // Keep the window as long as it may still count anything.
    if (decision.allowed) this.windows.set(name, counts, { ttl: limit.windowSeconds * 1000 * (1 + 2 / BUCKETS) });
    return decision;
  }

  clear(): void {
    this.windows.clear();
  }
}
