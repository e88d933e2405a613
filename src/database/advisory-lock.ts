import type { EntityManager } from 'typeorm';

/** Takes the transaction-level advisory lock `id`: held until the transaction of `manager` ends. */
export async function lockForTransaction(manager: EntityManager, id: number): Promise<void> {
  await manager.query('SELECT pg_advisory_xact_lock($1)', [id]);
}
