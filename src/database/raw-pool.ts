import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** The minimal `pg.Pool` surface shared by `pg` and the embedded pool. */
export interface RawPool {
  query<R = Record<string, unknown>>(config: {
    text: string;
    values?: unknown[];
    name?: string;
  }): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** The driver pool's own counters: `pg.Pool`, or the embedded pool (total only). */
export interface RawPoolCounts {
  total: number | undefined;
  idle: number | undefined;
  waiting: number | undefined;
}

/**
 * The driver's own pool, or undefined before the data source is initialized. The one
 * place that reads TypeORM's private `driver.master`.
 */
export function openRawPool(dataSource: DataSource): RawPool | undefined {
  return (dataSource.driver as unknown as { master?: RawPool }).master;
}

/**
 * The driver's own pool, for the few statements on the introspection path, where
 * TypeORM's query runner and result mapping would cost more than the query itself.
 */
export function rawPool(dataSource: DataSource): RawPool {
  const master = openRawPool(dataSource);
  if (!master) throw new Error('data source is not initialized');
  return master;
}

/** The raw pool as a provider: what the store's hot statements, the change listener and the pool gauges read. */
@Injectable()
export class DatabasePool {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The pool; throws while the data source is not initialized. */
  get(): RawPool {
    return rawPool(this.dataSource);
  }

  /** The pool, or undefined while the data source is not initialized. */
  ifOpen(): RawPool | undefined {
    return openRawPool(this.dataSource);
  }

  /** The pool's counters at this moment; null while there is no pool. */
  counts(): RawPoolCounts | null {
    if (!this.dataSource.isInitialized) return null;
    const pool = openRawPool(this.dataSource) as { totalCount?: number; idleCount?: number; waitingCount?: number };
    if (!pool) return null;
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
  }
}
