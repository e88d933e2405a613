import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { AppConfig } from '../config/config';
import type { KeyRecord } from './key-record';

/** Past this many keys changed since the last broad invalidation, a change to one counts as a change to all. */
const MAX_TRACKED_DIGESTS = 10_000;

/** Sweeping costs a pass over the entries: not more often than this. */
const SWEEP_MIN_MS = 1000;
/** Sweeps per TTL: an expired entry stays at most a fifth of a TTL (or SWEEP_MIN_MS) past its end. */
const SWEEPS_PER_TTL = 5;

/** `null` caches "no such key", so scanning for keys costs the database nothing. */
export type CachedLookup = KeyRecord | null;

/**
 * The bounded in-process cache in front of the verifier's query, keyed by digest.
 *
 * Each invalidation bumps an epoch; a lookup that began before the latest invalidation
 * of its digest (or of everything, or of a client) does not store its (possibly stale)
 * row, so a notification that arrives while a query is in flight cannot be undone by
 * that query's answer. A change to one key keeps only that key's reads out of the cache:
 * instances that share a database hear of every key change, and a global epoch would
 * keep every read under way out of the cache at each one.
 *
 * Expired entries are swept five times per TTL (at most once a second): the cache then
 * holds the keys used within little more than the last TTL, not every key seen since
 * start (up to CACHE_MAX_ENTRIES), which kept hundreds of megabytes of stale records
 * when many keys each come by once.
 */
@Injectable()
export class KeyCache implements OnModuleDestroy {
  private readonly entries: LRUCache<string, { value: CachedLookup }> | null;
  private readonly negativeTtl: number;
  private readonly sweeper: NodeJS.Timeout | null;
  private epoch = 0;
  /** The epoch of the last invalidation of everything or of a client. */
  private broadAt = 0;
  /** The epoch of each digest's last invalidation since then. */
  private readonly digestAt = new Map<string, number>();
  /**
   * While digest secrets rotate: a key's digest under each older secret, to its digest under
   * the current one (what the entry is keyed by). Made at the first alias; bounded like the cache.
   */
  private aliases: LRUCache<string, string> | null = null;
  private readonly aliasOptions: { max: number; ttl: number };
  readonly stats = { hits: 0, misses: 0, invalidations: 0 };

  constructor(env: AppConfig) {
    this.negativeTtl = env.CACHE_NEGATIVE_TTL_MS;
    this.entries =
      env.CACHE_TTL_MS > 0 && env.CACHE_MAX_ENTRIES > 0
        ? new LRUCache({ max: env.CACHE_MAX_ENTRIES, ttl: env.CACHE_TTL_MS, ttlAutopurge: false })
        : null;
    this.aliasOptions = { max: Math.max(env.CACHE_MAX_ENTRIES, 1), ttl: 2 * env.CACHE_TTL_MS };
    const sweepEvery = Math.max(Math.ceil(env.CACHE_TTL_MS / SWEEPS_PER_TTL), SWEEP_MIN_MS);
    this.sweeper = this.entries ? setInterval(() => this.entries!.purgeStale(), sweepEvery).unref() : null;
  }

  onModuleDestroy(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  get enabled(): boolean {
    return this.entries !== null;
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  /** The cached answer, or `undefined` when the database must be asked. */
  get(digest: string): CachedLookup | undefined {
    const entry = this.entries?.get(digest);
    if (entry === undefined) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return entry.value;
  }

  /** Marks the start of a lookup; pass the result to {@link set}. */
  begin(): number {
    return this.epoch;
  }

  /** Whether nothing announced since `startedAt` concerns this digest: a lookup begun then still reads what is current. */
  current(digest: string, startedAt: number): boolean {
    return this.broadAt <= startedAt && (this.digestAt.get(digest) ?? 0) <= startedAt;
  }

  set(digest: string, value: CachedLookup, startedAt: number): void {
    if (!this.entries || !this.current(digest, startedAt)) return;
    if (value === null) {
      if (this.negativeTtl > 0) this.entries.set(digest, { value }, { ttl: this.negativeTtl });
      return;
    }
    this.entries.set(digest, { value });
  }

  /** Makes a change announced under `other` (a key's digest under an older secret) a change to `digest`'s entry. */
  alias(other: string, digest: string): void {
    if (!this.entries) return;
    this.aliases ??= new LRUCache({ ...this.aliasOptions, ttlAutopurge: false });
    this.aliases.set(other, digest);
  }

  invalidateDigest(digest: string): void {
    const aliased = this.aliases?.get(digest);
    if (aliased !== undefined) this.invalidateOne(aliased);
    this.invalidateOne(digest);
  }

  private invalidateOne(digest: string): void {
    this.stats.invalidations++;
    this.entries?.delete(digest);
    if (this.digestAt.size >= MAX_TRACKED_DIGESTS) return this.bumpAll();
    this.digestAt.set(digest, ++this.epoch);
  }

  invalidateClient(clientId: string): void {
    this.bumpAll();
    this.stats.invalidations++;
    if (!this.entries) return;
    for (const [digest, entry] of this.entries.entries()) {
      if (entry.value?.clientId === clientId) this.entries.delete(digest);
    }
  }

  clear(): void {
    this.bumpAll();
    this.stats.invalidations++;
    this.entries?.clear();
    this.aliases?.clear();
  }

  /** Every lookup under way is stale now; the per-digest epochs are covered by this one. */
  private bumpAll(): void {
    this.broadAt = ++this.epoch;
    this.digestAt.clear();
  }
}
