import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, DeepPartial, EntityManager } from 'typeorm';
import { ClientEntity } from './client.entity';

/** The client list's filters and page (keyset on created_at, id). */
export interface ClientListFilter {
  /** Only this client (a tenant's reader). */
  ownClientId: string | null;
  status?: ClientEntity['status'];
  /** The last row of the previous page. */
  after: { at: string; id: string } | null;
  limit: number;
}

/** The clients table: every statement on it. */
@Injectable()
export class ClientsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** One page of clients, newest first (one more row than `limit`, to tell whether a next page exists). */
  listPage(filter: ClientListFilter): Promise<ClientEntity[]> {
    const qb = this.dataSource.getRepository(ClientEntity).createQueryBuilder('c');
    if (filter.ownClientId) qb.andWhere('c.id = :own', { own: filter.ownClientId });
    if (filter.status) qb.andWhere('c.status = :status', { status: filter.status });
    if (filter.after) qb.andWhere('(c.created_at, c.id) < (:at, :id)', { at: filter.after.at, id: filter.after.id });
    return qb
      .orderBy('c.created_at', 'DESC')
      .addOrderBy('c.id', 'DESC')
      .limit(filter.limit + 1)
      .getMany();
  }

  /**
   * The client `id`. `lock`: `write` locks its row for update, `share` for key share
   * (pessimistic_read), both until the transaction ends.
   */
  findById(
    id: string,
    lock?: 'write' | 'share',
    manager: EntityManager = this.dataSource.manager,
  ): Promise<ClientEntity | null> {
    const mode =
      lock === 'write' ? ('pessimistic_write' as const) : lock === 'share' ? ('pessimistic_read' as const) : undefined;
    return manager.findOne(ClientEntity, { where: { id }, ...(mode ? { lock: { mode } } : {}) });
  }

  /** Whether there is a client `id`. */
  async exists(id: string): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>('SELECT 1 FROM clients WHERE id = $1', [id]);
    return rows.length > 0;
  }

  /** Inserts a client and returns it as stored. */
  insert(fields: DeepPartial<ClientEntity>, manager: EntityManager): Promise<ClientEntity> {
    return manager.save(manager.create(ClientEntity, fields));
  }

  /** Writes the changed columns of a client read before. */
  save(client: ClientEntity, manager: EntityManager): Promise<ClientEntity> {
    return manager.save(client);
  }
}
