import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Actor, ownClientOnly, RequestContext } from '../auth/actor';
import { AuditLog } from '../audit/audit-log';
import { BadInput, Conflict, Forbidden, NotFound } from '../common/errors';
import { coversAll } from '../credentials/scope-match';
import { NOT_DEAD } from '../keys/key-status';
import { KeyCache } from '../credentials/key-cache';
import { CREATED_AT_AND_ID, decodeCursor, Page, toPage } from '../common/pagination';
import { diff } from '../common/diff';
import { redactKeys, redactKeysIn } from '../common/redact';
import { ClientEntity } from './client.entity';
import { ClientResponse } from './dto/client.response';
import { CreateClientDto } from './dto/create-client.dto';
import { ListClientsQueryDto } from './dto/list-clients.dto';
import { UpdateClientDto } from './dto/update-client.dto';

export class ClientNotFound extends NotFound {
  constructor() {
    super('No client with that id.');
  }
}

@Injectable()
export class ClientsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly cache: KeyCache,
  ) {}

  async create(dto: CreateClientDto, ctx: RequestContext): Promise<ClientResponse> {
    if (ctx.actor && !ctx.actor.isSystem) throw new Forbidden('Only root keys may create clients.');
    return this.dataSource.transaction(async (manager) => {
      const allowedScopes = await ceilingFrom(manager, dto.allowed_scopes ?? []);
      const fields = scrubbed(dto);
      const client = await manager.save(
        manager.create(ClientEntity, {
          name: fields.name,
          description: fields.description ?? '',
          allowedScopes,
          metadata: fields.metadata ?? {},
        }),
      );
      await this.audit.append(manager, ctx, {
        action: 'client.created',
        targetType: 'client',
        targetId: client.id,
        clientId: client.id,
        changes: {
          name: client.name,
          description: client.description,
          allowed_scopes: client.allowedScopes,
          metadata: client.metadata,
        },
      });
      return map(client);
    });
  }

  async list(query: ListClientsQueryDto, actor: Actor): Promise<Page<ClientResponse>> {
    const cursor = decodeCursor(query.cursor, CREATED_AT_AND_ID);
    const qb = this.dataSource.getRepository(ClientEntity).createQueryBuilder('c');
    const own = ownClientOnly(actor);
    if (own) qb.andWhere('c.id = :own', { own });
    if (query.status) qb.andWhere('c.status = :status', { status: query.status });
    if (cursor) qb.andWhere('(c.created_at, c.id) < (:at, :id)', { at: cursor.at, id: cursor.id });
    const rows = await qb
      .orderBy('c.created_at', 'DESC')
      .addOrderBy('c.id', 'DESC')
      .limit(query.limit + 1)
      .getMany();
    return toPage(rows, query.limit, map, (c) => ({ at: c.createdAt.toISOString(), id: c.id }));
  }

  async get(id: string, actor: Actor): Promise<ClientResponse> {
    return map(await this.visible(this.dataSource.manager, id, actor));
  }

  async update(id: string, dto: UpdateClientDto, ctx: RequestContext): Promise<ClientResponse> {
    let statusChanged = false;
    if (dto.allowed_scopes !== undefined && ctx.actor && !ctx.actor.isSystem) {
      // After the guard, before any lookup: the same answer whether or not the client is the caller's.
      throw new Forbidden('Only root keys may set allowed_scopes.');
    }
    const updated = await this.dataSource.transaction(async (manager) => {
      const client = await this.visible(manager, id, ctx.actor!, 'write');
      if (client.isSystem && dto.status === 'suspended') {
        throw new Conflict('The system client holds the root keys and cannot be suspended.');
      }
      const { allowed_scopes: wanted, ...fields } = scrubbed(definedOnly(dto));
      const before = {
        name: client.name,
        description: client.description,
        metadata: client.metadata,
        status: client.status,
        allowed_scopes: client.allowedScopes,
      };
      const after = {
        ...before,
        ...fields,
        ...(wanted !== undefined ? { allowed_scopes: await ceilingFrom(manager, wanted) } : {}),
      };
      const changes = diff(before, after);
      if (Object.keys(changes).length === 0) return map(client);
      if (changes.allowed_scopes) await assertCeilingHolds(manager, client, after.allowed_scopes);
      const { allowed_scopes: allowedScopes, ...columns } = after;
      Object.assign(client, columns, { allowedScopes });
      const saved = await manager.save(client);
      const action = changes.status
        ? after.status === 'suspended'
          ? 'client.suspended'
          : 'client.reactivated'
        : 'client.updated';
      await this.audit.append(manager, ctx, { action, targetType: 'client', targetId: id, clientId: id, changes });
      statusChanged = Boolean(changes.status);
      return map(saved);
    });
    // After the commit, as for keys (KeysService.changeKey): the trigger's notification may come later.
    if (statusChanged) this.cache.invalidateClient(id);
    return updated;
  }

  /**
   * The client if the actor may see it; otherwise the same 404 as for a client that does not exist.
   * `lock`: `write` to change it; `share` to rely on its ceiling until the transaction ends (a
   * change of the ceiling waits for it, and it for the change).
   */
  async visible(manager: EntityManager, id: string, actor: Actor, lock?: 'write' | 'share'): Promise<ClientEntity> {
    const own = ownClientOnly(actor);
    if (own && own !== id) throw new ClientNotFound();
    const mode =
      lock === 'write' ? ('pessimistic_write' as const) : lock === 'share' ? ('pessimistic_read' as const) : undefined;
    const client = await manager.findOne(ClientEntity, { where: { id }, ...(mode ? { lock: { mode } } : {}) });
    if (!client) throw new ClientNotFound();
    return client;
  }
}

/** Key-shaped text out of the free-text fields given (see redactKeys): never stored, never answered back. */
function scrubbed<T extends { name?: string; description?: string; metadata?: Record<string, unknown> }>(dto: T): T {
  return {
    ...dto,
    ...(dto.name !== undefined ? { name: redactKeys(dto.name) } : {}),
    ...(dto.description !== undefined ? { description: redactKeys(dto.description) } : {}),
    ...(dto.metadata !== undefined ? { metadata: redactKeysIn(dto.metadata) } : {}),
  };
}

function definedOnly<T extends object>(dto: T): Partial<T> {
  return Object.fromEntries(Object.entries(dto).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function map(c: ClientEntity): ClientResponse {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    status: c.status,
    allowed_scopes: c.allowedScopes,
    metadata: c.metadata,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}

/** The most keys a refused narrowing names; `conflicting_key_count` says how many there are. */
const MAX_NAMED_KEYS = 20;

/**
 * A ceiling as stored: sorted, each entry a catalogued scope or a `:*` wildcard (which need
 * not be catalogued itself: it only bounds what keys may hold).
 */
async function ceilingFrom(manager: EntityManager, scopes: string[]): Promise<string[]> {
  const exact = scopes.filter((s) => !s.endsWith(':*'));
  const rows =
    exact.length === 0
      ? []
      : await manager.query<{ name: string }[]>('SELECT name FROM scopes WHERE name = ANY($1::text[])', [exact]);
  const known = new Set(rows.map((r) => r.name));
  const unknown = scopes.flatMap((s, i) =>
    s.endsWith(':*') || known.has(s)
      ? []
      : [{ pointer: `#/allowed_scopes/${i}`, detail: `${s} is not in the scope catalog` }],
  );
  if (unknown.length > 0)
    throw new BadInput('allowed_scopes may list only catalogued scopes and wildcards.', { errors: unknown });
  return [...scopes].sort();
}

/**
 * A ceiling may be set or narrowed only while it covers every scope of the client's keys that
 * are not dead (revoked or run out): the 409 names them (the first 20) and their scopes outside
 * it, so the operator can narrow or revoke those keys first. Keys are never changed behind
 * the operator's back. The client's row is locked for update: an issue, patch or rotation under
 * way holds it shared and is waited for, and the next one reads the new ceiling.
 */
async function assertCeilingHolds(manager: EntityManager, client: ClientEntity, ceiling: string[]): Promise<void> {
  if (ceiling.length === 0) return;
  if (client.isSystem) throw new Conflict("The system client's keys are root keys; it takes no allowed_scopes.");
  const rows = await manager.query<{ key_id: string; scope_name: string }[]>(
    `SELECT k.id AS key_id, ks.scope_name FROM api_keys k JOIN key_scopes ks ON ks.key_id = k.id
     WHERE k.client_id = $1 AND ${NOT_DEAD} ORDER BY k.id, ks.scope_name`,
    [client.id],
  );
  const outside = new Map<string, string[]>();
  for (const { key_id, scope_name } of rows) {
    if (!coversAll(ceiling, [scope_name])) outside.set(key_id, [...(outside.get(key_id) ?? []), scope_name]);
  }
  if (outside.size === 0) return;
  const named = [...outside].slice(0, MAX_NAMED_KEYS).map(([key_id, scopes]) => ({ key_id, scopes_outside: scopes }));
  throw new Conflict(
    `${outside.size} key(s) of the client hold scopes outside the new allowed_scopes; narrow or revoke them first.`,
    { conflicting_keys: named, conflicting_key_count: outside.size },
  );
}
