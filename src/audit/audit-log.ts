import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { RequestContext } from '../auth/actor';
import { AuditEventEntity } from './audit-event.entity';
import { chainHash, GENESIS_HASH } from './audit-chain';

/** Any constant: the advisory lock that makes appends to the chain one at a time. */
const CHAIN_LOCK = 7_426_001;

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
  async append(manager: EntityManager, context: RequestContext, entry: AuditEntry): Promise<AuditEventEntity> {
    await manager.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
    const [last] = await manager.query<{ hash: string }[]>('SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1');
    const prevHash = last?.hash ?? GENESIS_HASH;
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
    const event = manager.create(AuditEventEntity, { ...content, prevHash, hash: chainHash(prevHash, content) });
    return manager.save(event);
  }
}
