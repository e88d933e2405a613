import { Injectable, OnModuleInit } from '@nestjs/common';
import { Metrics } from '../metrics/metrics';
import { KeyCache } from './key-cache';
import { KeyChangeListener } from './key-change-listener';

/** Points the key cache's gauges, read at scrape time, at this instance's cache and its change listener. */
@Injectable()
export class CacheGauges implements OnModuleInit {
  constructor(
    private readonly metrics: Metrics,
    private readonly cache: KeyCache,
    private readonly listener: KeyChangeListener,
  ) {}

  onModuleInit(): void {
    this.metrics.observeCacheSize(() => this.cache.size);
    this.metrics.observeCacheEvents(() => this.cache.stats);
    this.metrics.observeChangeListener(() => this.listener.connected);
  }
}
