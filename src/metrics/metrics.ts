import { Injectable, Optional } from '@nestjs/common';
import { Counter, Gauge, Histogram, collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import { AppConfig } from '../config/config';
import { readBuildInfo } from './build-info';
import { HOT_ENDPOINTS, HotPathTally, TallyHistogram, type HotEndpoint } from './hot-path-tally';
import { ReadGauge } from './read-gauge';

/**
 * prom-client's default metrics that are gauges named like counters: each is the sum of
 * its labelled sibling (`sum(nodejs_active_handles)`), so they are left out.
 */
const GAUGES_NAMED_TOTAL = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** OpenTelemetry's advised bounds for `http.server.request.duration`, in seconds. */
export const HTTP_DURATION_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

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
 * bounded values (endpoint, reason code, outcome, route template): never a key,
 * digest or id. Keyhouse's own are named `keyhouse_*`; the process and Node.js ones
 * and the admin API's request duration carry their usual names, so stock dashboards
 * read them.
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
    help: 'Requests refused for a presented key that is not good, by endpoint (admin, introspect, authorize, key_changes) and answer: refused (401) or throttled (429, too many failures from the address).',
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
  private redisState: () => Promise<boolean | null> = () => Promise.resolve(null);
  private listenerState: () => boolean | null = () => null;

  readonly dbPoolConnections: Gauge<'state'> = new Gauge({
    name: 'keyhouse_db_pool_connections',
    help: 'Open database pool connections, by state: idle or used. Embedded database: one, in neither (no state label).',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: (): void => {
      this.dbPoolConnections.reset();
      const stats = this.poolStats();
      if (typeof stats?.total !== 'number') return;
      if (typeof stats.idle !== 'number') return this.dbPoolConnections.set(stats.total);
      this.dbPoolConnections.set({ state: 'idle' }, stats.idle);
      this.dbPoolConnections.set({ state: 'used' }, stats.total - stats.idle);
    },
  });

  readonly dbPoolPendingRequests = new ReadGauge(
    'keyhouse_db_pool_pending_requests',
    'Requests waiting for a database pool connection (PostgreSQL only).',
    () => this.poolStats()?.waiting ?? null,
  );

  readonly redisUp = new ReadGauge(
    'keyhouse_redis_up',
    'Whether Redis answered a PING at this scrape (1) or not (0); absent without REDIS_URL.',
    async () => {
      const up = await this.redisState();
      return up === null ? null : Number(up);
    },
  );

  readonly changeListenerUp = new ReadGauge(
    'keyhouse_change_listener_up',
    'Whether this instance listens for key and client changes (1) or not (0: the cache TTL alone bounds staleness).',
    () => {
      const up = this.listenerState();
      return up === null ? null : Number(up);
    },
  );

  readonly buildInfo = new Gauge({
    name: 'keyhouse_build_info',
    help: 'Always 1: the version and commit of the running Keyhouse.',
    labelNames: ['version', 'commit'] as const,
    registers: [this.registry],
  });

  /** The admin API's request duration (every route but introspect and authorize), as OpenTelemetry's http.server.request.duration. */
  readonly httpRequestDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests of the admin API, operations and docs (introspect and authorize: keyhouse_hot_path_duration_seconds).',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_code'] as const,
    buckets: HTTP_DURATION_BOUNDS,
    registers: [this.registry],
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

  /** Whether Redis answers (null: no Redis configured), asked at each scrape. */
  observeRedis(up: () => Promise<boolean | null>): void {
    this.redisState = up;
  }

  /** Whether the change listener is connected (null: not started). */
  observeChangeListener(up: () => boolean | null): void {
    this.listenerState = up;
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

  constructor(@Optional() env?: AppConfig) {
    for (const metric of [this.hotPathLatency, this.dbPoolPendingRequests, this.redisUp, this.changeListenerUp])
      this.registry.registerMetric(metric as unknown as Metric);
    collectDefaultMetrics({ register: this.registry });
    for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(name);
    const build = readBuildInfo(env?.KEYHOUSE_COMMIT);
    this.buildInfo.set({ version: build.version, commit: build.commit }, 1);
  }
}
