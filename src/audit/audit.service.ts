import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Actor, ownClientOnly } from '../auth/actor';
import { CursorPart, CursorShape, decodeCursor, Page, toPage } from '../common/pagination';
import { AuditEventEntity } from './audit-event.entity';
import { AuditEventResponse } from './dto/audit-event.response';
import { ListAuditEventsQueryDto } from './dto/list-audit-events.dto';

/** The trail's cursor: the last event's time (kept for reading) and its id, which orders the list. */
const EVENT_CURSOR: CursorShape = { at: CursorPart.instant, id: CursorPart.bigint };

@Injectable()
export class AuditService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async list(query: ListAuditEventsQueryDto, actor: Actor): Promise<Page<AuditEventResponse>> {
    const cursor = decodeCursor(query.cursor, EVENT_CURSOR);
    const qb = this.dataSource.getRepository(AuditEventEntity).createQueryBuilder('e');
    const own = ownClientOnly(actor);
    if (own) qb.andWhere('e.client_id = :own', { own });
    if (query.action) qb.andWhere('e.action = :action', { action: query.action });
    if (query.actor) qb.andWhere('e.actor_key_id = :actor', { actor: query.actor });
    if (query.target) qb.andWhere('e.target_id = :target', { target: query.target });
    if (query.from) qb.andWhere('e.occurred_at >= :from', { from: query.from });
    if (query.to) qb.andWhere('e.occurred_at < :to', { to: query.to });
    if (cursor) qb.andWhere('e.id < :id', { id: cursor.id });
    const rows = await qb.orderBy('e.id', 'DESC').limit(query.limit + 1).getMany();
    // The embedded driver reads bigint as a number, pg as a string; the cursor holds a string.
    return toPage(rows, query.limit, map, (e) => ({ at: e.occurredAt.toISOString(), id: String(e.id) }));
  }
}

function map(e: AuditEventEntity): AuditEventResponse {
  return {
    id: String(e.id),
    occurred_at: e.occurredAt.toISOString(),
    actor_key_id: e.actorKeyId,
    action: e.action,
    target_type: e.targetType,
    target_id: e.targetId,
    client_id: e.clientId,
    request_id: e.requestId,
    source_ip: e.sourceIp,
    changes: e.changes,
    hash: e.hash,
    prev_hash: e.prevHash,
  };
}
