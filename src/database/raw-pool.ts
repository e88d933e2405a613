import { DataSource } from 'typeorm';

/** The minimal `pg.Pool` surface shared by `pg` and the embedded pool. */
export interface RawPool {
  query<R = Record<string, unknown>>(config: {
    text: string;
    values?: unknown[];
    name?: string;
  }): Promise<{ rows: R[]; rowCount: number | null }>;
}

/**
 * The driver's own pool, for the few statements on the introspection path, where
 * TypeORM's query runner and result mapping would cost more than the query itself.
 */
export function rawPool(dataSource: DataSource): RawPool {
  const master = (dataSource.driver as unknown as { master?: RawPool }).master;
  if (!master) throw new Error('data source is not initialized');
  return master;
}
