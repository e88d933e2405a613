import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The service's Prometheus metrics, one registry per app. Labels carry only
 * bounded values (endpoint, reason code, outcome): never a key, digest or id.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly introspections = new Counter({
    name: 'keyhouse_introspections_total',
    help: 'Introspection and authorize decisions, by endpoint and outcome (valid or the reason code).',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly hotPathLatency = new Histogram({
    name: 'keyhouse_hot_path_duration_seconds',
    help: 'Time to decide an introspect or authorize request, by endpoint.',
    labelNames: ['endpoint'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly cacheEvents = new Counter({
    name: 'keyhouse_key_cache_events_total',
    help: 'Key cache hits, misses and invalidations.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  readonly usageFlushRows = new Histogram({
    name: 'keyhouse_usage_flush_rows',
    help: 'Usage rows written per flush.',
    buckets: [0, 1, 10, 100, 1000, 10000],
    registers: [this.registry],
  });

  readonly usageFlushLag = new Gauge({
    name: 'keyhouse_usage_flush_lag_seconds',
    help: 'Age of the oldest usage count not yet written to the database.',
    registers: [this.registry],
  });

  readonly rateLimiterFallbacks = new Counter({
    name: 'keyhouse_rate_limiter_fallbacks_total',
    help: 'Rate-limit decisions made locally because Redis was unreachable.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'keyhouse_' });
  }
}
