import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ScopeEntity } from './scope.entity';

/** The scopes table (the catalog): every statement on it. */
@Injectable()
export class ScopesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Adds a scope to the catalog; null when one of that name is there already. */
  async insertIfAbsent(name: string, description: string, manager: EntityManager): Promise<ScopeEntity | null> {
    const inserted = await manager
      .createQueryBuilder()
      .insert()
      .into(ScopeEntity)
      .values({ name, description })
      .orIgnore()
      .returning('*')
      .execute();
    if (inserted.identifiers.length === 0 || !(inserted.raw as unknown[])[0]) return null;
    return manager.findOneByOrFail(ScopeEntity, { name });
  }

  /** One page of the catalog in name order, after the name `after` (one more row than `limit`). */
  listPage(after: string | null, limit: number): Promise<ScopeEntity[]> {
    const qb = this.dataSource.getRepository(ScopeEntity).createQueryBuilder('s');
    if (after !== null) qb.andWhere('s.name > :name', { name: after });
    return qb
      .orderBy('s.name', 'ASC')
      .limit(limit + 1)
      .getMany();
  }

  /** The scope `name`, its row locked for update until the transaction ends. */
  findForUpdate(name: string, manager: EntityManager): Promise<ScopeEntity | null> {
    return manager.findOne(ScopeEntity, { where: { name }, lock: { mode: 'pessimistic_write' } });
  }

  async delete(name: string, manager: EntityManager): Promise<void> {
    await manager.delete(ScopeEntity, { name });
  }

  /** Of `names`, those in the catalog. */
  async existing(names: string[], manager: EntityManager): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows = await manager.query<{ name: string }[]>('SELECT name FROM scopes WHERE name = ANY($1::text[])', [
      names,
    ]);
    return new Set(rows.map((r) => r.name));
  }

  /**
   * Of `names`, those in the catalog, their rows share-locked (FOR KEY SHARE) until the
   * transaction ends: a scope deleted meanwhile waits for the transaction.
   */
  async existingLocked(names: string[], manager: EntityManager): Promise<Set<string>> {
    const rows = await manager.query<{ name: string }[]>(
      'SELECT name FROM scopes WHERE name = ANY($1::text[]) ORDER BY name FOR KEY SHARE',
      [names],
    );
    return new Set(rows.map((s) => s.name));
  }
}
