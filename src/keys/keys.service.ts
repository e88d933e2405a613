import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Actor, ownClientOnly, RequestContext } from '../auth/actor';
import { AuditLog } from '../audit/audit-log';
import { ClientsService } from '../clients/clients.service';
import { AppConfig } from '../config/config';
import { diff } from '../common/diff';
import { redactKeys, redactKeysIn } from '../common/redact';
import { BadInput } from '../common/errors';
import { CREATED_AT_AND_ID, decodeCursor, Page, toPage } from '../common/pagination';
import { normalizeRange } from '../credentials/ip-allowlist';
import { KeyCache } from '../credentials/key-cache';
import { KeyDigest } from '../credentials/key-digest';
import { generateKey, keyHint } from '../credentials/key-format';
import { AfterCommit, Transactions } from '../database/transactions';
import { keyStatus } from '../store/key-status';
import { KeyEntity } from '../store/key.entity';
import { KeysRepository } from '../store/keys.repository';
import { ScopesRepository } from '../store/scopes.repository';
import { UsageRepository } from '../store/usage.repository';
import { IssuedKeyResponse, KeyResponse, mapKey } from './dto/key.response';
import { IssueKeyDto } from './dto/issue-key.dto';
import { ListKeysQueryDto } from './dto/list-keys.dto';
import { RevokeKeyDto } from './dto/revoke-key.dto';
import { RotateKeyDto } from './dto/rotate-key.dto';
import { UpdateKeyDto } from './dto/update-key.dto';
import { assertExpiryNotLater, expiryFrom } from './expiry-rule';
import { assertGrantable, refusedGrants } from './grant-rule';
import { KeyNotFound, KeyNotGood } from './key.errors';
import { assertRotatable, graceEnd, successorExpiry } from './rotation-policy';
import { usedSinceRotation } from './rotation-usage';

/** The fields of a key the audit trail compares before and after a change. */
const AUDITED = (k: KeyEntity, scopes: string[]) => ({
  name: k.name,
  scopes,
  expires_at: k.expiresAt?.toISOString() ?? null,
  rate_limit: k.rateLimit === null ? null : { limit: k.rateLimit, window_seconds: k.rateWindowSeconds },
  ip_allowlist: k.ipAllowlist,
  usage_limit: k.usageLimit,
  metadata: k.metadata,
});

/**
 * The key use cases: issue, list, read, change, rotate, revoke. The rules they apply are
 * their own files (grant-rule, expiry-rule, rotation-policy); the storage is KeysRepository's.
 */
@Injectable()
export class KeysService {
  constructor(
    private readonly transactions: Transactions,
    private readonly keys: KeysRepository,
    private readonly scopes: ScopesRepository,
    private readonly usage: UsageRepository,
    private readonly clients: ClientsService,
    private readonly audit: AuditLog,
    private readonly digest: KeyDigest,
    private readonly cache: KeyCache,
    private readonly env: AppConfig,
  ) {}

  async issue(clientId: string, dto: IssueKeyDto, ctx: RequestContext): Promise<IssuedKeyResponse> {
    const expiresAt = expiryFrom(dto.expires_at, dto.ttl_seconds);
    const scopes = sorted(dto.scopes ?? []);
    return this.transactions.run(async (manager) => {
      const client = await this.clients.visible(manager, clientId, ctx.actor!, 'share');
      await this.assertCatalogued(manager, dto.scopes ?? []);
      assertGrantable(refusedGrants(scopes, ctx.actor, client.allowedScopes), 'grant');
      const key = generateKey(dto.environment);
      const saved = await this.keys.insertWithScopes(
        {
          clientId,
          environment: dto.environment,
          name: redactKeys(dto.name),
          digest: this.digest.of(key),
          digestSecret: this.digest.currentId,
          hint: keyHint(key),
          expiresAt,
          rateLimit: dto.rate_limit?.limit ?? null,
          rateWindowSeconds: dto.rate_limit?.window_seconds ?? null,
          ipAllowlist: (dto.ip_allowlist ?? []).map(normalizeRange),
          usageLimit: dto.usage_limit ?? null,
          remaining: dto.usage_limit ?? null,
          metadata: redactKeysIn(dto.metadata ?? {}),
        },
        scopes,
        manager,
      );
      await this.audit.append(manager, ctx, {
        action: 'key.issued',
        targetType: 'key',
        targetId: saved.id,
        clientId,
        changes: { environment: saved.environment, hint: saved.hint, ...AUDITED(saved, scopes) },
      });
      return { ...mapKey(saved, scopes), key };
    });
  }

  async list(query: ListKeysQueryDto, actor: Actor): Promise<Page<KeyResponse>> {
    const cursor = decodeCursor(query.cursor, CREATED_AT_AND_ID);
    const rows = await this.keys.listPage({
      ownClientId: ownClientOnly(actor),
      clientId: query.client_id,
      environment: query.environment,
      status: query.status,
      after: cursor,
      limit: query.limit,
    });
    const scopes = await this.keys.scopesOf(rows.map((k) => k.id));
    const rotations = await usedSinceRotation(this.usage, rows);
    return toPage(
      rows,
      query.limit,
      (k) => mapKey(k, scopes.get(k.id) ?? [], rotations.get(k.id)),
      (k) => ({ at: k.createdAt.toISOString(), id: k.id }),
    );
  }

  async get(id: string, actor: Actor): Promise<KeyResponse> {
    const key = await this.visible(this.transactions.manager, id, actor);
    const rotation = (await usedSinceRotation(this.usage, [key])).get(id);
    return mapKey(key, await this.keys.scopesOfOne(id), rotation);
  }

  async update(id: string, dto: UpdateKeyDto, ctx: RequestContext): Promise<KeyResponse> {
    return this.changeKey(id, async (manager) => {
      const key = await this.visible(manager, id, ctx.actor!, true);
      const status = keyStatus(key);
      if (status === 'revoked' || status === 'expired') throw new KeyNotGood(status);
      const scopesBefore = await this.keys.scopesOfOne(id, manager);
      assertGrantable(refusedGrants(scopesBefore, ctx.actor, []), 'change');
      const before = AUDITED(key, scopesBefore);
      if (dto.name !== undefined) key.name = redactKeys(dto.name);
      if (dto.expires_at !== undefined) {
        const expiresAt = dto.expires_at === null ? null : expiryFrom(dto.expires_at, undefined);
        assertExpiryNotLater(key.expiresAt, expiresAt, ctx.actor);
        key.expiresAt = expiresAt;
      }
      if (dto.rate_limit !== undefined) {
        key.rateLimit = dto.rate_limit?.limit ?? null;
        key.rateWindowSeconds = dto.rate_limit?.window_seconds ?? null;
      }
      if (dto.ip_allowlist !== undefined) key.ipAllowlist = dto.ip_allowlist.map(normalizeRange);
      if (dto.usage_limit !== undefined) {
        key.usageLimit = dto.usage_limit;
        key.remaining = dto.usage_limit;
      }
      if (dto.metadata !== undefined) key.metadata = redactKeysIn(dto.metadata);
      const scopes = dto.scopes ? sorted(dto.scopes) : scopesBefore;
      const changes = diff(before, AUDITED(key, scopes));
      if (Object.keys(changes).length === 0)
        return mapKey(key, scopesBefore, (await usedSinceRotation(this.usage, [key], manager)).get(id));
      if (changes.scopes) {
        const client = await this.clients.visible(manager, key.clientId, ctx.actor!, 'share');
        await this.assertCatalogued(manager, dto.scopes!);
        assertGrantable(refusedGrants(scopes, ctx.actor, client.allowedScopes), 'grant');
        await this.keys.replaceScopes(id, scopes, manager);
      }
      const saved = await this.keys.save(key, manager);
      await this.audit.append(manager, ctx, {
        action: 'key.updated',
        targetType: 'key',
        targetId: id,
        clientId: key.clientId,
        changes,
      });
      return mapKey(saved, scopes, (await usedSinceRotation(this.usage, [saved], manager)).get(id));
    });
  }

  async rotate(id: string, dto: RotateKeyDto, ctx: RequestContext): Promise<IssuedKeyResponse> {
    return this.changeKey(id, async (manager) => {
      const old = await this.visible(manager, id, ctx.actor!, true);
      assertRotatable(old);
      const now = Date.now();
      const scopes = await this.keys.scopesOfOne(id, manager);
      const client = await this.clients.visible(manager, old.clientId, ctx.actor!, 'share');
      assertGrantable(refusedGrants(scopes, ctx.actor, client.allowedScopes), 'rotate');
      const expiresAt = successorExpiry(old, dto, ctx.actor, now);
      const key = generateKey(old.environment);
      const successor = await this.keys.insertWithScopes(
        {
          clientId: old.clientId,
          environment: old.environment,
          name: old.name,
          digest: this.digest.of(key),
          digestSecret: this.digest.currentId,
          hint: keyHint(key),
          expiresAt,
          rateLimit: old.rateLimit,
          rateWindowSeconds: old.rateWindowSeconds,
          ipAllowlist: old.ipAllowlist,
          usageLimit: old.usageLimit,
          remaining: old.remaining,
          metadata: old.metadata,
          replaces: old.id,
        },
        scopes,
        manager,
      );
      old.replacedBy = successor.id;
      old.graceEndsAt = graceEnd(old, dto.grace_period_seconds ?? this.env.DEFAULT_GRACE_PERIOD_SECONDS, now);
      await this.keys.save(old, manager);
      await this.audit.append(manager, ctx, {
        action: 'key.rotated',
        targetType: 'key',
        targetId: old.id,
        clientId: old.clientId,
        changes: {
          replaced_by: successor.id,
          grace_ends_at: old.graceEndsAt.toISOString(),
          successor_hint: successor.hint,
          scopes,
          expires_at: iso(successor.expiresAt),
        },
      });
      return { ...mapKey(successor, scopes), key };
    });
  }

  async revoke(id: string, dto: RevokeKeyDto, ctx: RequestContext): Promise<KeyResponse> {
    return this.changeKey(id, async (manager) => {
      const key = await this.visible(manager, id, ctx.actor!, true);
      const scopes = await this.keys.scopesOfOne(id, manager);
      const rotation = (await usedSinceRotation(this.usage, [key], manager)).get(id);
      if (key.revokedAt) return mapKey(key, scopes, rotation);
      key.revokedAt = new Date();
      key.revokedReason = dto.reason === undefined ? 'unspecified' : redactKeys(dto.reason);
      const saved = await this.keys.save(key, manager);
      await this.audit.append(manager, ctx, {
        action: 'key.revoked',
        targetType: 'key',
        targetId: id,
        clientId: key.clientId,
        changes: { reason: key.revokedReason },
      });
      return mapKey(saved, scopes, rotation);
    });
  }

  /**
   * Runs a change to key `id` in a transaction and, once it has committed, drops the key
   * from this instance's cache. The database trigger tells every instance, but its
   * notification may land after this response: whoever revoked a key must not see it
   * work on the next request. (Dropping it before the commit could let a concurrent
   * lookup cache the old row again.)
   */
  private changeKey<T>(id: string, change: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.transactions.run(async (manager, afterCommit: AfterCommit) => {
      const result = await change(manager);
      const digest = await this.keys.digestOf(id, manager);
      if (digest) afterCommit(() => this.cache.invalidateDigest(digest));
      return result;
    });
  }

  /** The key if the actor may see it; otherwise the same 404 as for a key that does not exist. */
  private async visible(manager: EntityManager, id: string, actor: Actor, forUpdate = false): Promise<KeyEntity> {
    const key = await this.keys.findById(id, { clientId: ownClientOnly(actor), forUpdate }, manager);
    if (!key) throw new KeyNotFound();
    return key;
  }

  /**
   * Keys may carry only catalogued scopes (who may grant them is the grant rule's). The
   * catalog rows are share-locked until the transaction ends: a scope deleted meanwhile
   * either waits for this key to hold it (and is refused), or was gone before (and this is
   * a 400), never a link to a deleted scope failing its foreign key.
   */
  private async assertCatalogued(manager: EntityManager, scopes: string[]): Promise<void> {
    if (scopes.length === 0) return;
    const known = await this.scopes.existingLocked(scopes, manager);
    const unknown = scopes.flatMap((s, i) =>
      known.has(s) ? [] : [{ pointer: `#/scopes/${i}`, detail: `${s} is not in the scope catalog` }],
    );
    if (unknown.length > 0) throw new BadInput('Keys may carry only catalogued scopes.', { errors: unknown });
  }
}

/** Scopes in one order everywhere (code-point order, whatever the database's collation). */
function sorted(scopes: readonly string[]): string[] {
  return [...scopes].sort();
}

function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}
