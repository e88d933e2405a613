import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, DeepPartial, EntityManager } from 'typeorm';
import { lockForTransaction } from '../database/advisory-lock';
import { AuditEventEntity } from './audit-event.entity';

/** Any constant: the advisory lock that makes appends to the chain one at a time. */
const CHAIN_LOCK = 7_426_001;

/** The trail's filters and page (keyset on id, newest first). */
export interface AuditListFilter {
  /** Only this client's events (a tenant's reader); an actor filter then matches only its own keys. */
  ownClientId: string | null;
  action?: string;
  actor?: string;
  target?: string;
  from?: string;
  to?: string;
  /** The id of the last event of the previous page. */
  beforeId: string | null;
  limit: number;
}

/** An event as stored, column by column: what the chain verifier hashes again. */
export interface AuditEventRow {
  id: string | number;
  occurred_at: Date | string;
  actor_key_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  client_id: string | null;
  request_id: string | null;
  source_ip: string | null;
  changes: unknown;
  prev_hash: string;
  hash: string;
}

const SELECT_BATCH = `
  SELECT id, occurred_at, actor_key_id, action, target_type, target_id, client_id, request_id, source_ip, changes, prev_hash, hash
  FROM audit_events WHERE id > $1::bigint ORDER BY id LIMIT $2`;

/** The audit_events table: the hash chain's appends and the reads of the trail. */
@Injectable()
export class AuditEventsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Locks the chain for the rest of the transaction (appends go one at a time) and
   * returns the hash of its last event, if any.
   */
  async lockChainAndReadHead(manager: EntityManager): Promise<string | undefined> {
    await lockForTransaction(manager, CHAIN_LOCK);
    const [last] = await manager.query<{ hash: string }[]>('SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1');
    return last?.hash;
  }

  insert(event: DeepPartial<AuditEventEntity>, manager: EntityManager): Promise<AuditEventEntity> {
    return manager.save(manager.create(AuditEventEntity, event));
  }

  /** One page of the trail, newest first (one more row than `limit`). */
  listPage(filter: AuditListFilter): Promise<AuditEventEntity[]> {
    const qb = this.dataSource.getRepository(AuditEventEntity).createQueryBuilder('e');
    const own = filter.ownClientId;
    if (own) qb.andWhere('e.client_id = :own', { own });
    if (filter.action) qb.andWhere('e.action = :action', { action: filter.action });
    if (filter.actor) qb.andWhere('e.actor_key_id = :actor', { actor: filter.actor });
    // A tenant finds events by actor only among its own keys: an operator's key id is no filter it can probe with.
    if (filter.actor && own)
      qb.andWhere('e.actor_key_id IN (SELECT k.id FROM api_keys k WHERE k.client_id = :own)', { own });
    if (filter.target) qb.andWhere('e.target_id = :target', { target: filter.target });
    if (filter.from) qb.andWhere('e.occurred_at >= :from', { from: filter.from });
    if (filter.to) qb.andWhere('e.occurred_at < :to', { to: filter.to });
    if (filter.beforeId !== null) qb.andWhere('e.id < :id', { id: filter.beforeId });
    return qb
      .orderBy('e.id', 'DESC')
      .limit(filter.limit + 1)
      .getMany();
  }

  /** Up to `size` events after the id `afterId`, in id order, as stored. */
  batchAfter(
    afterId: string,
    size: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<AuditEventRow[]> {
    return manager.query<AuditEventRow[]>(SELECT_BATCH, [afterId, size]);
  }
}
