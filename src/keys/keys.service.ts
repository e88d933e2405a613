import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import { Actor, ownClientOnly, RequestContext } from '../auth/actor';
import { AuditLog } from '../audit/audit-log';
import { ClientsService } from '../clients/clients.service';
import { AppConfig } from '../config/config';
import { diff } from '../common/diff';
import { redactKeys, redactKeysIn } from '../common/redact';
import { BadInput, Conflict, Forbidden, NotFound } from '../common/errors';
import { CREATED_AT_AND_ID, decodeCursor, Page, toPage } from '../common/pagination';
import { LATEST_INSTANT, TIMESTAMP_RANGE } from '../common/validators';
import { normalizeRange } from '../credentials/ip-allowlist';
import { KeyCache } from '../credentials/key-cache';
import { KeyDigest } from '../credentials/key-digest';
import { generateKey, keyHint } from '../credentials/key-format';
import { UsedSinceRotationResponse } from '../usage/dto/used-since-rotation.response';
import { usedSinceRotation } from '../usage/rotation-usage';
import { IssuedKeyResponse, KeyResponse } from './dto/key.response';
import { IssueKeyDto } from './dto/issue-key.dto';
import { assertGrantable, refusedGrants } from './grant-rule';
import { ListKeysQueryDto } from './dto/list-keys.dto';
import { RevokeKeyDto } from './dto/revoke-key.dto';
import { RotateKeyDto } from './dto/rotate-key.dto';
import { UpdateKeyDto } from './dto/update-key.dto';
import { KeyScopeEntity } from './key-scope.entity';
import { keyStatus, statusCondition } from './key-status';
import { KeyEntity } from './key.entity';

export class KeyNotFound extends NotFound {
  constructor() {
    super('No key with that id.');
  }
}
export class KeyAlreadyRotated extends Conflict {
  constructor(successor: string) {
    super('The key has already been rotated; rotate its successor instead.', { replaced_by: successor });
  }
}
export class KeyNotGood extends Conflict {
  constructor(status: string) {
    super(`The key is ${status}; only a good key can be rotated or changed.`, { key_status: status });
  }
}

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

@Injectable()
export class KeysService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clients: ClientsService,
    private readonly audit: AuditLog,
    private readonly digest: KeyDigest,
    private readonly cache: KeyCache,
    private readonly env: AppConfig,
  ) {}

  async issue(clientId: string, dto: IssueKeyDto, ctx: RequestContext): Promise<IssuedKeyResponse> {
    const expiresAt = expiryFrom(dto.expires_at, dto.ttl_seconds);
    const scopes = sorted(dto.scopes ?? []);
    return this.dataSource.transaction(async (manager) => {
      const client = await this.clients.visible(manager, clientId, ctx.actor!, 'share');
      await this.assertCatalogued(manager, dto.scopes ?? []);
      assertGrantable(refusedGrants(scopes, ctx.actor, client.allowedScopes), 'grant');
      const key = generateKey(dto.environment);
      const entity = manager.create(KeyEntity, {
        clientId,
        environment: dto.environment,
        name: redactKeys(dto.name),
        digest: this.digest.of(key),
        hint: keyHint(key),
        expiresAt,
        rateLimit: dto.rate_limit?.limit ?? null,
        rateWindowSeconds: dto.rate_limit?.window_seconds ?? null,
        ipAllowlist: (dto.ip_allowlist ?? []).map(normalizeRange),
        usageLimit: dto.usage_limit ?? null,
        remaining: dto.usage_limit ?? null,
        metadata: redactKeysIn(dto.metadata ?? {}),
      });
      const saved = await this.insert(manager, entity, scopes);
      await this.audit.append(manager, ctx, {
        action: 'key.issued',
        targetType: 'key',
        targetId: saved.id,
        clientId,
        changes: { environment: saved.environment, hint: saved.hint, ...AUDITED(saved, scopes) },
      });
      return { ...map(saved, scopes), key };
    });
  }

  async list(query: ListKeysQueryDto, actor: Actor): Promise<Page<KeyResponse>> {
    const cursor = decodeCursor(query.cursor, CREATED_AT_AND_ID);
    const qb = this.dataSource.getRepository(KeyEntity).createQueryBuilder('k');
    const own = ownClientOnly(actor);
    if (own) qb.andWhere('k.client_id = :own', { own });
    if (query.client_id) qb.andWhere('k.client_id = :clientId', { clientId: query.client_id });
    if (query.environment) qb.andWhere('k.environment = :environment', { environment: query.environment });
    if (query.status) qb.andWhere(statusCondition(query.status));
    if (cursor) qb.andWhere('(k.created_at, k.id) < (:at, :id)', { at: cursor.at, id: cursor.id });
    const rows = await qb
      .orderBy('k.created_at', 'DESC')
      .addOrderBy('k.id', 'DESC')
      .limit(query.limit + 1)
      .getMany();
    const scopes = await this.scopesOf(
      this.dataSource.manager,
      rows.map((k) => k.id),
    );
    const rotations = await usedSinceRotation(this.dataSource.manager, rows);
    return toPage(
      rows,
      query.limit,
      (k) => map(k, scopes.get(k.id) ?? [], rotations.get(k.id)),
      (k) => ({ at: k.createdAt.toISOString(), id: k.id }),
    );
  }

  async get(id: string, actor: Actor): Promise<KeyResponse> {
    const key = await this.visible(this.dataSource.manager, id, actor);
    const rotation = (await usedSinceRotation(this.dataSource.manager, [key])).get(id);
    return map(key, await this.scopesOfOne(this.dataSource.manager, id), rotation);
  }

  async update(id: string, dto: UpdateKeyDto, ctx: RequestContext): Promise<KeyResponse> {
    return this.changeKey(id, async (manager) => {
      const key = await this.visible(manager, id, ctx.actor!, true);
      const status = keyStatus(key);
      if (status === 'revoked' || status === 'expired') throw new KeyNotGood(status);
      const scopesBefore = await this.scopesOfOne(manager, id);
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
        return map(key, scopesBefore, (await usedSinceRotation(manager, [key])).get(id));
      if (changes.scopes) {
        const client = await this.clients.visible(manager, key.clientId, ctx.actor!, 'share');
        await this.assertCatalogued(manager, dto.scopes!);
        assertGrantable(refusedGrants(scopes, ctx.actor, client.allowedScopes), 'grant');
        await manager.delete(KeyScopeEntity, { keyId: id });
        await manager.insert(
          KeyScopeEntity,
          scopes.map((scopeName) => ({ keyId: id, scopeName })),
        );
      }
      const saved = await manager.save(key);
      await this.audit.append(manager, ctx, {
        action: 'key.updated',
        targetType: 'key',
        targetId: id,
        clientId: key.clientId,
        changes,
      });
      return map(saved, scopes, (await usedSinceRotation(manager, [saved])).get(id));
    });
  }

  async rotate(id: string, dto: RotateKeyDto, ctx: RequestContext): Promise<IssuedKeyResponse> {
    return this.changeKey(id, async (manager) => {
      const old = await this.visible(manager, id, ctx.actor!, true);
      if (old.replacedBy) throw new KeyAlreadyRotated(old.replacedBy);
      const status = keyStatus(old);
      if (status !== 'active') throw new KeyNotGood(status);
      const now = Date.now();
      const scopes = await this.scopesOfOne(manager, id);
      const client = await this.clients.visible(manager, old.clientId, ctx.actor!, 'share');
      assertGrantable(refusedGrants(scopes, ctx.actor, client.allowedScopes), 'rotate');
      const lifetime = old.expiresAt ? old.expiresAt.getTime() - old.createdAt.getTime() : null;
      const defaultExpiry = lifetime === null ? null : new Date(Math.min(now + lifetime, LATEST_INSTANT - 1));
      const expiresAt =
        dto.expires_at !== undefined || dto.ttl_seconds !== undefined
          ? expiryFrom(dto.expires_at, dto.ttl_seconds, now)
          : defaultExpiry;
      // The successor's lifetime is the old one's, from now; only root may give it a longer one.
      assertExpiryNotLater(defaultExpiry, expiresAt, ctx.actor);
      const key = generateKey(old.environment);
      const successor = await this.insert(
        manager,
        manager.create(KeyEntity, {
          clientId: old.clientId,
          environment: old.environment,
          name: old.name,
          digest: this.digest.of(key),
          hint: keyHint(key),
          expiresAt,
          rateLimit: old.rateLimit,
          rateWindowSeconds: old.rateWindowSeconds,
          ipAllowlist: old.ipAllowlist,
          usageLimit: old.usageLimit,
          remaining: old.remaining,
          metadata: old.metadata,
          replaces: old.id,
        }),
        scopes,
      );
      const graceSeconds = dto.grace_period_seconds ?? this.env.DEFAULT_GRACE_PERIOD_SECONDS;
      const graceEnd = Math.min(now + graceSeconds * 1000, old.expiresAt?.getTime() ?? Infinity);
      old.replacedBy = successor.id;
      old.graceEndsAt = new Date(graceEnd);
      await manager.save(old);
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
      return { ...map(successor, scopes), key };
    });
  }

  async revoke(id: string, dto: RevokeKeyDto, ctx: RequestContext): Promise<KeyResponse> {
    return this.changeKey(id, async (manager) => {
      const key = await this.visible(manager, id, ctx.actor!, true);
      const scopes = await this.scopesOfOne(manager, id);
      const rotation = (await usedSinceRotation(manager, [key])).get(id);
      if (key.revokedAt) return map(key, scopes, rotation);
      key.revokedAt = new Date();
      key.revokedReason = dto.reason === undefined ? 'unspecified' : redactKeys(dto.reason);
      const saved = await manager.save(key);
      await this.audit.append(manager, ctx, {
        action: 'key.revoked',
        targetType: 'key',
        targetId: id,
        clientId: key.clientId,
        changes: { reason: key.revokedReason },
      });
      return map(saved, scopes, rotation);
    });
  }

  /**
   * Runs a change to key `id` in a transaction, then, once it has committed, drops the
   * key from this instance's cache. The database trigger tells every instance, but its
   * notification may land after this response: whoever revoked a key must not see it
   * work on the next request. (Dropping it before the commit could let a concurrent
   * lookup cache the old row again.)
   */
  private async changeKey<T>(id: string, change: (manager: EntityManager) => Promise<T>): Promise<T> {
    const { result, digest } = await this.dataSource.transaction(async (manager) => {
      const result = await change(manager);
      const [row] = await manager.query<{ digest: string }[]>('SELECT digest FROM api_keys WHERE id = $1', [id]);
      return { result, digest: row?.digest };
    });
    if (digest) this.cache.invalidateDigest(digest);
    return result;
  }

  /** The key if the actor may see it; otherwise the same 404 as for a key that does not exist. */
  private async visible(manager: EntityManager, id: string, actor: Actor, forUpdate = false): Promise<KeyEntity> {
    const own = ownClientOnly(actor);
    const key = await manager.findOne(KeyEntity, {
      where: own ? { id, clientId: own } : { id },
      ...(forUpdate ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!key) throw new KeyNotFound();
    return key;
  }

  private async insert(manager: EntityManager, entity: KeyEntity, scopes: string[]): Promise<KeyEntity> {
    const saved = await manager.save(entity);
    if (scopes.length > 0)
      await manager.insert(
        KeyScopeEntity,
        scopes.map((scopeName) => ({ keyId: saved.id, scopeName })),
      );
    return manager.findOneByOrFail(KeyEntity, { id: saved.id });
  }

  /**
   * Keys may carry only catalogued scopes (who may grant them is the grant rule's). The
   * catalog rows are share-locked until the transaction ends: a scope deleted meanwhile
   * either waits for this key to hold it (and is refused), or was gone before (and this is
   * a 400), never a link to a deleted scope failing its foreign key.
   */
  private async assertCatalogued(manager: EntityManager, scopes: string[]): Promise<void> {
    if (scopes.length === 0) return;
    const rows = await manager.query<{ name: string }[]>(
      'SELECT name FROM scopes WHERE name = ANY($1::text[]) ORDER BY name FOR KEY SHARE',
      [scopes],
    );
    const known = new Set(rows.map((s) => s.name));
    const unknown = scopes.flatMap((s, i) =>
      known.has(s) ? [] : [{ pointer: `#/scopes/${i}`, detail: `${s} is not in the scope catalog` }],
    );
    if (unknown.length > 0) throw new BadInput('Keys may carry only catalogued scopes.', { errors: unknown });
  }

  private async scopesOf(manager: EntityManager, keyIds: string[]): Promise<Map<string, string[]>> {
    const byKey = new Map<string, string[]>();
    if (keyIds.length === 0) return byKey;
    const links = await manager.find(KeyScopeEntity, { where: { keyId: In(keyIds) } });
    for (const link of links) byKey.set(link.keyId, [...(byKey.get(link.keyId) ?? []), link.scopeName]);
    for (const [keyId, names] of byKey) byKey.set(keyId, sorted(names));
    return byKey;
  }

  private async scopesOfOne(manager: EntityManager, keyId: string): Promise<string[]> {
    return (await this.scopesOf(manager, [keyId])).get(keyId) ?? [];
  }
}

/** An expiry from `expires_at` or `ttl_seconds` (not both); it must lie in the future. `null` means never. */
function expiryFrom(
  expiresAt: string | null | undefined,
  ttlSeconds: number | undefined,
  now = Date.now(),
): Date | null {
  if (expiresAt !== undefined && ttlSeconds !== undefined) {
    throw new BadInput('Give expires_at or ttl_seconds, not both.', {
      errors: [{ pointer: '#/ttl_seconds', detail: 'ttl_seconds cannot be combined with expires_at' }],
    });
  }
  if (ttlSeconds !== undefined) {
    const at = now + ttlSeconds * 1000;
    if (at >= LATEST_INSTANT)
      throw new BadInput(`ttl_seconds must end within ${TIMESTAMP_RANGE}.`, {
        errors: [{ pointer: '#/ttl_seconds', detail: 'ttl_seconds reaches past 9998-12-31T23:59:59Z' }],
      });
    return new Date(at);
  }
  if (expiresAt === undefined || expiresAt === null) return null;
  const at = new Date(expiresAt);
  if (at.getTime() <= Date.now()) {
    throw new BadInput('expires_at must lie in the future.', {
      errors: [{ pointer: '#/expires_at', detail: 'expires_at must be in the future' }],
    });
  }
  return at;
}

/**
 * Until clients have a lifetime policy, only a root key may remove an expiry or move it later
 * (an expired key stays dead, a short-lived one short); any key may move it earlier.
 */
function assertExpiryNotLater(limit: Date | null, wanted: Date | null, actor: Actor | null): void {
  if (!actor || actor.isSystem || limit === null) return;
  if (wanted !== null && wanted.getTime() <= limit.getTime()) return;
  throw new Forbidden(
    wanted === null
      ? 'Only root keys may remove an expiry.'
      : `Only root keys may set an expiry later than ${limit.toISOString()}.`,
    { expires_at_limit: limit.toISOString() },
  );
}

/** Scopes in one order everywhere (code-point order, whatever the database's collation). */
function sorted(scopes: readonly string[]): string[] {
  return [...scopes].sort();
}

function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

/** `rotation`: the key's use since it was rotated, for a rotated key (see usedSinceRotation). */
export function map(k: KeyEntity, scopes: string[], rotation?: UsedSinceRotationResponse): KeyResponse {
  return {
    id: k.id,
    client_id: k.clientId,
    name: k.name,
    environment: k.environment,
    status: keyStatus(k),
    hint: k.hint,
    scopes,
    created_at: k.createdAt.toISOString(),
    expires_at: iso(k.expiresAt),
    last_used_at: iso(k.lastUsedAt),
    revoked_at: iso(k.revokedAt),
    revoked_reason: k.revokedReason,
    replaces: k.replaces,
    replaced_by: k.replacedBy,
    grace_ends_at: iso(k.graceEndsAt),
    used_since_rotation: rotation ?? null,
    rate_limit: k.rateLimit === null ? null : { limit: k.rateLimit, window_seconds: k.rateWindowSeconds! },
    ip_allowlist: k.ipAllowlist,
    usage_limit: k.usageLimit,
    remaining: k.remaining,
    metadata: k.metadata,
  };
}
