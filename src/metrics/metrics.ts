import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import { HOT_ENDPOINTS, HotPathTally, TallyHistogram, type HotEndpoint } from './hot-path-tally';

export interface CacheStats {
  hits: number;
  misses: number;
  invalidations: number;
}

export interface PoolStats {
  total?: number;
  idle?: number;
  waiting?: number;
}

/**
 * The service's Prometheus metrics, one registry per app. Labels carry only
 * bounded values (endpoint, reason code, outcome): never a key, digest or id.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  /** Each hot endpoint's decisions, counted on every call as plain numbers and read into the two metrics below at each scrape. */
  readonly hotPath: Readonly<Record<HotEndpoint, HotPathTally>> = {
    introspect: new HotPathTally(),
    authorize: new HotPathTally(),
  };

  readonly introspections = new Counter({
    name: 'keyhouse_introspections_total',
    help: 'Introspection and authorize decisions, by endpoint and outcome (valid or the reason code).',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [this.registry],
    collect: () => this.collectOutcomes(),
  });

  readonly hotPathLatency = new TallyHistogram(
    'keyhouse_hot_path_duration_seconds',
    'Time to decide an introspect or authorize request, by endpoint.',
    this.hotPath,
  );

  readonly cacheEvents = new Counter({
    name: 'keyhouse_key_cache_events_total',
    help: 'Key cache hits, misses and invalidations.',
    labelNames: ['event'] as const,
    registers: [this.registry],
    collect: () => this.collectCacheEvents(),
  });

  readonly usageFlushRows = new Histogram({
    name: 'keyhouse_usage_flush_rows',
    help: 'Usage rows written per flush.',
    buckets: [0, 1, 10, 100, 1000, 10000],
    registers: [this.registry],
  });

  readonly usageFlushLag: Gauge = new Gauge({
    name: 'keyhouse_usage_flush_lag_seconds',
    help: 'Age of the oldest usage count not yet written to the database.',
    registers: [this.registry],
    collect: (): void => this.usageFlushLag.set(this.usageLag()),
  });

  readonly rateLimiterFallbacks = new Counter({
    name: 'keyhouse_rate_limiter_fallbacks_total',
    help: 'Rate-limit decisions made locally because Redis was unreachable.',
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'keyhouse_auth_failures_total',
    help: 'Requests refused for a presented key that is not good, by endpoint (admin, introspect, authorize) and answer: refused (401) or throttled (429, too many failures from the address).',
    labelNames: ['endpoint', 'result'] as const,
    registers: [this.registry],
  });

  readonly deniedAttempts = new Counter({
    name: 'keyhouse_denied_attempts_total',
    help: 'Denied admin attempts, by what became of them: recorded (counted in an access.denied event) or failed (write error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly keyChangeStreams = new Gauge({
    name: 'keyhouse_key_change_streams',
    help: 'Change streams (GET /v1/key-changes) open on this instance.',
    registers: [this.registry],
  });

  readonly keyChangeCutoffs = new Counter({
    name: 'keyhouse_key_change_cutoffs_total',
    help: 'Change streams closed because their subscriber did not read (KEY_CHANGES_MAX_PENDING_BYTES, or no drain within a heartbeat).',
    registers: [this.registry],
  });

  private poolStats: () => PoolStats | null = () => null;
  private cacheSize: () => number | null = () => null;
  private cacheStats: () => CacheStats | null = () => null;
  private readonly cacheStatsSeen: CacheStats = { hits: 0, misses: 0, invalidations: 0 };
  private usageLag: () => number = () => 0;

  readonly dbPoolConnections = new Gauge({
    name: 'keyhouse_db_pool_connections',
    help: 'Database pool connections by state: total, idle, and waiting (requests queued for a connection). Embedded: one, and total only.',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => {
      this.dbPoolConnections.reset();
      const stats = this.poolStats();
      if (!stats) return;
      for (const state of ['total', 'idle', 'waiting'] as const) {
        const value = stats[state];
        if (typeof value === 'number') this.dbPoolConnections.set({ state }, value);
      }
    },
  });

  readonly keyCacheEntries = new Gauge({
    name: 'keyhouse_key_cache_entries',
    help: 'Entries in the key cache, misses (negative entries) included.',
    registers: [this.registry],
    collect: () => {
      const size = this.cacheSize();
      if (size !== null) this.keyCacheEntries.set(size);
    },
  });

  /** Where the pool gauges read from at each scrape. */
  observePool(stats: () => PoolStats | null): void {
    this.poolStats = stats;
  }

  observeCacheSize(size: () => number | null): void {
    this.cacheSize = size;
  }

  /** The key cache's running totals, turned into counter increments at each scrape. */
  observeCacheEvents(stats: () => CacheStats | null): void {
    this.cacheStats = stats;
  }

  /** Seconds since the oldest usage count still in memory was recorded (0 when none). */
  observeUsageLag(lag: () => number): void {
    this.usageLag = lag;
  }

  private collectOutcomes(): void {
    this.introspections.reset();
    for (const endpoint of HOT_ENDPOINTS) {
      for (const [outcome, count] of this.hotPath[endpoint].outcomes)
        this.introspections.inc({ endpoint, outcome }, count);
    }
  }

  private collectCacheEvents(): void {
    const stats = this.cacheStats();
    if (!stats) return;
    for (const [field, event] of [
      ['hits', 'hit'],
      ['misses', 'miss'],
      ['invalidations', 'invalidation'],
    ] as const) {
      const delta = stats[field] - this.cacheStatsSeen[field];
      if (delta > 0) this.cacheEvents.inc({ event }, delta);
      this.cacheStatsSeen[field] = stats[field];
    }
  }

  constructor() {
    this.registry.registerMetric(this.hotPathLatency as unknown as Metric);
    collectDefaultMetrics({ register: this.registry, prefix: 'keyhouse_' });
  }
}
