import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { KeyCache } from '../credentials/key-cache';
import { Metrics, PoolStats } from './metrics';

/** The driver pool's own counters: `pg.Pool`, or the embedded pool (total only). */
interface CountingPool {
  totalCount?: number;
  idleCount?: number;
  waitingCount?: number;
}

/** Points the gauges read at scrape time at the live pool and key cache. */
@Injectable()
export class MetricsSources implements OnModuleInit {
  constructor(
    private readonly metrics: Metrics,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cache: KeyCache,
  ) {}

  onModuleInit(): void {
    this.metrics.observePool(() => poolStats(this.dataSource));
    this.metrics.observeCacheSize(() => this.cache.size);
    this.metrics.observeCacheEvents(() => this.cache.stats);
  }
}

function poolStats(dataSource: DataSource): PoolStats | null {
  if (!dataSource.isInitialized) return null;
  const pool = (dataSource.driver as unknown as { master?: CountingPool }).master;
  if (!pool) return null;
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
}
