import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/** Queues `work` to run once the transaction has committed; never if it rolls back. */
export type AfterCommit = (work: () => void) => void;

/**
 * Runs units of work in one transaction each, with work that must wait for the commit
 * (dropping cache entries, announcing a change) queued through `afterCommit` instead of
 * written after each transaction by hand, as Vendure's transaction subscriber does.
 *
 * Queued work runs in the order queued, after the commit and before `run` returns: a
 * caller that gets the answer sees its effects (whoever revoked a key must not see it
 * work on the next request). Done before the commit, a concurrent reader could put the
 * old row back in a cache; done on a rollback, it would drop what never changed.
 */
@Injectable()
export class Transactions {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The data source's own manager, for reads outside any transaction. */
  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  async run<T>(work: (manager: EntityManager, afterCommit: AfterCommit) => Promise<T>): Promise<T> {
    const queued: Array<() => void> = [];
    const result = await this.dataSource.transaction((manager) => work(manager, (later) => queued.push(later)));
    for (const later of queued) later();
    return result;
  }
}
