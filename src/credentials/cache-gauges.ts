import { Injectable, OnModuleInit } from '@nestjs/common';
import { Metrics } from '../metrics/metrics';
import { KeyCache } from './key-cache';

/** Points the key cache's gauges, read at scrape time, at this instance's cache. */
@Injectable()
export class CacheGauges implements OnModuleInit {
  constructor(
    private readonly metrics: Metrics,
    private readonly cache: KeyCache,
  ) {}

  onModuleInit(): void {
    this.metrics.observeCacheSize(() => this.cache.size);
    this.metrics.observeCacheEvents(() => this.cache.stats);
  }
}
