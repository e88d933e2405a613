import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ownClientOnly, RequestContext } from '../auth/actor';
import { AuditLog } from '../audit/audit-log';
import { KeyCache } from '../credentials/key-cache';
import { KeyDigest } from '../credentials/key-digest';
import { parseKey } from '../credentials/key-format';
import { keyStatus } from './key-status';
import { KeyEntity } from './key.entity';
import { LeakedKeyReportDto } from './leaked-key-report.dto';
import { LeakedKeyResponse } from './leaked-key.response';

/** Anything in a free-text field that looks like a key is replaced before it reaches the trail. */
const KEY_LIKE = /sk_(live|test)_[0-9A-Za-z]+/g;

/**
 * Revokes keys reported as leaked. Holding the full key is proof enough, so any
 * `admin:keys:write` holder may report any key; the answer names the key only to a
 * reporter that could see it anyway (root, or the key's own client).
 */
@Injectable()
export class LeakedKeysService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly digest: KeyDigest,
    private readonly audit: AuditLog,
    private readonly cache: KeyCache,
  ) {}

  async report(dto: LeakedKeyReportDto, ctx: RequestContext): Promise<LeakedKeyResponse> {
    const parsed = parseKey(dto.key.trim());
    if (!parsed) return { matched: false, revoked: false };
    const digest = this.digest.of(parsed.key);
    const answer = await this.dataSource.transaction(async (manager): Promise<LeakedKeyResponse> => {
      const key = await manager
        .createQueryBuilder(KeyEntity, 'k')
        .where('k.digest = :digest', { digest })
        .setLock('pessimistic_write')
        .getOne();
      if (!key) return { matched: false, revoked: false };
      const own = ownClientOnly(ctx.actor!);
      const named = own === null || own === key.clientId ? { key_id: key.id, hint: key.hint } : {};
      const status = keyStatus(key);
      if (status === 'revoked' || status === 'expired') return { matched: true, revoked: false, ...named };
      key.revokedAt = new Date();
      key.revokedReason = 'leaked';
      await manager.save(key);
      await this.audit.append(manager, ctx, {
        action: 'key.revoked',
        targetType: 'key',
        targetId: key.id,
        clientId: key.clientId,
        changes: { reason: 'leaked', reported_by: ctx.actor!.keyId, source: scrub(dto.source), ...(dto.url ? { url: scrub(dto.url) } : {}) },
      });
      return { matched: true, revoked: true, ...named };
    });
    // Other instances drop it when the trigger's notification arrives; this one need not wait for it.
    if (answer.revoked) this.cache.invalidateDigest(digest);
    return answer;
  }
}

function scrub(text: string): string {
  return text.replace(KEY_LIKE, 'sk_$1_[redacted]');
}
