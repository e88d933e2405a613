import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Actor } from '../auth/actor';
import { BadInput, Forbidden } from '../common/errors';
import { type AuditEventRow, AuditEventsRepository } from '../store/audit-events.repository';
import { chainHash, ChainedContent, GENESIS_HASH } from './audit-chain';
import { ChainVerificationResponse } from './dto/chain-verification.response';
import { VerifyChainQueryDto } from './dto/verify-chain.dto';

/** Rows read per query while walking the chain: memory stays bounded however long it grows. */
export const VERIFY_BATCH_SIZE = 1000;

export type ChainProblem = 'hash_mismatch' | 'prev_hash_mismatch' | 'anchor_mismatch' | 'anchor_missing';

/** An event id and hash recorded earlier, outside the database: what catches a cut-off tail. */
export interface Anchor {
  id: string;
  hash: string;
}

export type ChainVerdict =
  | { ok: true; checked: number; head: string; headId: string | null }
  | { ok: false; checked: number; brokenAt: string; problem: ChainProblem };

/**
 * Walks the audit chain from the genesis hash, in id order, a batch at a time.
 *
 * Each event must hash to its stored `hash` (an edited row fails here) and must name
 * the previous event's hash as its `prev_hash` (a deleted, inserted or reordered row
 * fails here). Removing the newest events leaves a shorter chain that still links up,
 * which only an anchor taken earlier can reveal.
 */
@Injectable()
export class AuditChainVerifier {
  constructor(private readonly events: AuditEventsRepository) {}

  /** Root keys only: the chain runs through every client's events, so no client can check its part alone. */
  async verifyFor(actor: Actor, query: VerifyChainQueryDto): Promise<ChainVerificationResponse> {
    if (!actor.isSystem) throw new Forbidden('Only root keys may verify the audit chain: it spans every client.');
    if ((query.anchor_id === undefined) !== (query.anchor_hash === undefined)) {
      const missing = query.anchor_id === undefined ? 'anchor_id' : 'anchor_hash';
      throw new BadInput('An anchor needs both anchor_id and anchor_hash.', {
        errors: [{ pointer: `query/${missing}`, detail: `${missing} is required with the other` }],
      });
    }
    const anchor = query.anchor_id && query.anchor_hash ? { id: query.anchor_id, hash: query.anchor_hash } : undefined;
    const verdict = await this.verify(anchor);
    return verdict.ok
      ? { ok: true, checked: verdict.checked, head: verdict.head, head_id: verdict.headId }
      : { ok: false, checked: verdict.checked, broken_at: verdict.brokenAt, problem: verdict.problem };
  }

  async verify(anchor?: Anchor, manager?: EntityManager, batchSize = VERIFY_BATCH_SIZE): Promise<ChainVerdict> {
    let expectedPrev = GENESIS_HASH;
    let lastId: string | null = null;
    let checked = 0;
    let anchorSeen = false;
    for (;;) {
      const rows: AuditEventRow[] = await this.events.batchAfter(lastId ?? '0', batchSize, manager);
      for (const row of rows) {
        const id: string = String(row.id);
        const broken = (problem: ChainProblem): ChainVerdict => ({ ok: false, checked, brokenAt: id, problem });
        if (chainHash(row.prev_hash, contentOf(row)) !== row.hash) return broken('hash_mismatch');
        if (row.prev_hash !== expectedPrev) return broken('prev_hash_mismatch');
        if (anchor && id === anchor.id) {
          if (row.hash !== anchor.hash) return broken('anchor_mismatch');
          anchorSeen = true;
        }
        expectedPrev = row.hash;
        lastId = id;
        checked++;
      }
      if (rows.length < batchSize) break;
    }
    if (anchor && !anchorSeen) return { ok: false, checked, brokenAt: anchor.id, problem: 'anchor_missing' };
    return { ok: true, checked, head: expectedPrev, headId: lastId };
  }
}

/** The same fields, in the same form, that {@link AuditLog.append} hashed. */
function contentOf(row: AuditEventRow): ChainedContent {
  return {
    occurredAt: new Date(row.occurred_at).toISOString(),
    actorKeyId: row.actor_key_id,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    clientId: row.client_id,
    requestId: row.request_id,
    sourceIp: row.source_ip,
    changes: row.changes,
  };
}
