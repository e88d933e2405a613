import { Injectable } from '@nestjs/common';
import { ownClientOnly, RequestContext } from '../auth/actor';
import { AuditLog } from '../audit/audit-log';
import { KeyCache } from '../credentials/key-cache';
import { KeyDigest } from '../credentials/key-digest';
import { parseKey } from '../credentials/key-format';
import { redactKeys } from '../common/redact';
import { Transactions } from '../database/transactions';
import { keyStatus } from '../store/key-status';
import { KeysRepository } from '../store/keys.repository';
import { LEAK_REPORT_SCOPE } from './grant-rule';
import { LeakedKeyReportDto } from './leaked-key-report.dto';
import { LeakedKeyResponse } from './leaked-key.response';

/** The answer for anything that is not a key Keyhouse issued, and for a key the reporter may not act on. */
const NOT_OURS: LeakedKeyResponse = { matched: false, revoked: false };

/**
 * Revokes keys reported as leaked. A report revokes the key when the reporter is a root key,
 * belongs to the key's own client, or holds `admin:leaks:report` by name (a secret scanner's
 * key, granted only by root; a tenant's `admin:*` does not carry it here, so a tenant given
 * `admin:*` to run its own keys cannot revoke its callers' keys). Any other report is only
 * recorded (`key.leak_reported`, visible to root alone) and answered as for an unknown key, so
 * a service holding its callers' keys can neither revoke them nor learn that they are keys.
 * The answer names the key only to a reporter that could see it anyway.
 */
@Injectable()
export class LeakedKeysService {
  constructor(
    private readonly transactions: Transactions,
    private readonly keys: KeysRepository,
    private readonly digest: KeyDigest,
    private readonly audit: AuditLog,
    private readonly cache: KeyCache,
  ) {}

  async report(dto: LeakedKeyReportDto, ctx: RequestContext): Promise<LeakedKeyResponse> {
    const parsed = parseKey(dto.key.trim());
    if (!parsed) return NOT_OURS;
    const digest = this.digest.of(parsed.key);
    const actor = ctx.actor!;
    return this.transactions.run(async (manager, afterCommit): Promise<LeakedKeyResponse> => {
      // A key not yet moved to the current digest secret is found under an older one.
      const key = await this.keys.findByDigestForUpdate([digest, ...this.digest.others(parsed.key)], manager);
      if (!key) return NOT_OURS;
      const own = ownClientOnly(actor);
      const sees = own === null || own === key.clientId;
      const status = keyStatus(key);
      const report = {
        reported_by: actor.keyId,
        source: redactKeys(dto.source),
        ...(dto.url ? { url: redactKeys(dto.url) } : {}),
      };
      if (!sees && !actor.scopes.includes(LEAK_REPORT_SCOPE)) {
        // No client id: the reporter's client must not find it in its trail, the key's client must not learn the reporter.
        await this.audit.append(manager, ctx, {
          action: 'key.leak_reported',
          targetType: 'key',
          targetId: key.id,
          clientId: null,
          changes: { ...report, key_client_id: key.clientId, key_status: status },
        });
        return NOT_OURS;
      }
      const named = sees ? { key_id: key.id, hint: key.hint } : {};
      if (status === 'revoked' || status === 'expired') return { matched: true, revoked: false, ...named };
      key.revokedAt = new Date();
      key.revokedReason = 'leaked';
      await this.keys.save(key, manager);
      await this.audit.append(manager, ctx, {
        action: 'key.revoked',
        targetType: 'key',
        targetId: key.id,
        clientId: key.clientId,
        changes: { reason: 'leaked', ...report },
      });
      // Other instances drop it when the trigger's notification arrives; this one need not wait for it.
      afterCommit(() => this.cache.invalidateDigest(digest));
      return { matched: true, revoked: true, ...named };
    });
  }
}
