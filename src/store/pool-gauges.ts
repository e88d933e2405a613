import { Injectable, OnModuleInit } from '@nestjs/common';
import { DatabasePool } from '../database/raw-pool';
import { Metrics } from '../metrics/metrics';

/** Points the pool gauges read at scrape time at the live driver pool. */
@Injectable()
export class PoolGauges implements OnModuleInit {
  constructor(
    private readonly metrics: Metrics,
    private readonly pool: DatabasePool,
  ) {}

  onModuleInit(): void {
    this.metrics.observePool(() => this.pool.counts());
  }
}
