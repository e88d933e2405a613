import { Injectable } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { Actor, ownClientOnly } from '../auth/actor';
import { CursorPart, CursorShape, decodeCursor, Page, toPage } from '../common/pagination';
import { AuditEventEntity } from '../store/audit-event.entity';
import { AuditEventsRepository } from '../store/audit-events.repository';
import { KeysRepository } from '../store/keys.repository';
import { AuditEventResponse } from './dto/audit-event.response';
import { ListAuditEventsQueryDto } from './dto/list-audit-events.dto';

/** The trail's cursor: the last event's time (kept for reading) and its id, which orders the list. */
const EVENT_CURSOR: CursorShape = { at: CursorPart.instant, id: CursorPart.bigint };

@Injectable()
export class AuditService {
  constructor(
    private readonly events: AuditEventsRepository,
    private readonly keys: KeysRepository,
  ) {}

  async list(query: ListAuditEventsQueryDto, actor: Actor): Promise<Page<AuditEventResponse>> {
    const cursor = decodeCursor(query.cursor, EVENT_CURSOR);
    const own = ownClientOnly(actor);
    const rows = await this.events.listPage({
      ownClientId: own,
      action: query.action,
      actor: query.actor,
      target: query.target,
      from: query.from,
      to: query.to,
      beforeId: cursor ? cursor.id : null,
      limit: query.limit,
    });
    const shown = own ? await this.ownKeysAmong(own, rows) : null;
    // The embedded driver reads bigint as a number, pg as a string; the cursor holds a string.
    return toPage(
      rows,
      query.limit,
      (e) => map(e, shown),
      (e) => ({ at: e.occurredAt.toISOString(), id: String(e.id) }),
    );
  }

  /** The actors of `rows` that are keys of `clientId`: the only ones a tenant's reader is shown. */
  private async ownKeysAmong(clientId: string, rows: AuditEventEntity[]): Promise<Set<string>> {
    const actors = [
      ...new Set(rows.flatMap((e) => [e.actorKeyId, ...keyIdsIn(e.changes)]).filter((id): id is string => id !== null)),
    ];
    if (actors.length === 0) return new Set();
    return this.keys.idsOfClientAmong(clientId, actors);
  }
}

/** Fields of `changes` that name the key that did something besides the actor (the reporter of a leak). */
const KEY_ID_CHANGES = ['reported_by'] as const;

function keyIdsIn(changes: Record<string, unknown>): string[] {
  // Only UUIDs go to the query (it casts them); anything else in such a field is no key of the reader's.
  return KEY_ID_CHANGES.map((field) => changes[field]).filter(
    (id): id is string => typeof id === 'string' && isUUID(id),
  );
}

/** `changes` with every key id of another client (an operator's) in `KEY_ID_CHANGES` read as null. */
function ownKeyIdsOnly(changes: Record<string, unknown>, ownActors: Set<string>): Record<string, unknown> {
  const foreign = KEY_ID_CHANGES.filter(
    (field) => typeof changes[field] === 'string' && !ownActors.has(changes[field]),
  );
  return foreign.length === 0 ? changes : { ...changes, ...Object.fromEntries(foreign.map((field) => [field, null])) };
}

/**
 * An event as its reader may see it. To a non-root reader (`ownActors` given) the trail
 * of its own client shows no addresses, and no key ids but its own client's, as actor or
 * in changes: an operator's key id and address are not the tenant's to see. Nor are the
 * event's hash and the previous one: they cover the hidden fields, so with them every guess
 * of an address (or of a key id seen elsewhere) could be checked offline; only root keys
 * verify the chain.
 */
function map(e: AuditEventEntity, ownActors: Set<string> | null): AuditEventResponse {
  const actorShown = ownActors === null || (e.actorKeyId !== null && ownActors.has(e.actorKeyId));
  return {
    id: String(e.id),
    occurred_at: e.occurredAt.toISOString(),
    actor_key_id: actorShown ? e.actorKeyId : null,
    action: e.action,
    target_type: e.targetType,
    target_id: e.targetId,
    client_id: e.clientId,
    request_id: e.requestId,
    source_ip: ownActors === null ? e.sourceIp : null,
    changes: ownActors === null ? e.changes : ownKeyIdsOnly(e.changes, ownActors),
    hash: ownActors === null ? e.hash : null,
    prev_hash: ownActors === null ? e.prevHash : null,
  };
}
