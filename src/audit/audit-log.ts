import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { RequestContext } from '../auth/actor';
import { AuditEventEntity } from '../store/audit-event.entity';
import { AuditEventsRepository } from '../store/audit-events.repository';
import { chainHash, GENESIS_HASH } from './audit-chain';

export interface AuditEntry {
  action: string;
  targetType: 'client' | 'key' | 'scope' | 'system';
  targetId: string;
  /** The client the target belongs to, if any. */
  clientId?: string | null;
  /** What changed, never a secret: field names to new values, or `{from, to}` pairs. */
  changes?: Record<string, unknown>;
}

/**
 * Appends audit events inside the caller's transaction, so an event exists exactly
 * when its change committed. The chain lock is taken last, just before the insert,
 * and held only until that transaction ends.
 */
@Injectable()
export class AuditLog {
  constructor(private readonly events: AuditEventsRepository) {}

  async append(manager: EntityManager, context: RequestContext, entry: AuditEntry): Promise<AuditEventEntity> {
    const prevHash = (await this.events.lockChainAndReadHead(manager)) ?? GENESIS_HASH;
    const occurredAt = new Date();
    const content = {
      occurredAt: occurredAt.toISOString(),
      actorKeyId: context.actor?.keyId ?? null,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      clientId: entry.clientId ?? null,
      requestId: context.requestId,
      sourceIp: context.sourceIp,
      changes: entry.changes ?? {},
    };
    return this.events.insert({ ...content, prevHash, hash: chainHash(prevHash, content) }, manager);
  }
}
