import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Actor, ownClientOnly, RequestContext } from '../auth/actor';
import { AuditLog } from '../audit/audit-log';
import { BadInput, Conflict, Forbidden, NotFound } from '../common/errors';
import { coversAll } from '../credentials/scope-match';
import { KeyCache } from '../credentials/key-cache';
import { CREATED_AT_AND_ID, decodeCursor, Page, toPage } from '../common/pagination';
import { diff } from '../common/diff';
import { redactKeys, redactKeysIn } from '../common/redact';
import { Transactions } from '../database/transactions';
import { ClientEntity } from '../store/client.entity';
import { ClientsRepository } from '../store/clients.repository';
import { KeysRepository } from '../store/keys.repository';
import { ScopesRepository } from '../store/scopes.repository';
import { ClientResponse } from './dto/client.response';
import { CreateClientDto } from './dto/create-client.dto';
import { ListClientsQueryDto } from './dto/list-clients.dto';
import { UpdateClientDto } from './dto/update-client.dto';

export class ClientNotFound extends NotFound {
  constructor() {
    super('No client with that id.');
  }
}

/** The most keys a refused narrowing names; `conflicting_key_count` says how many there are. */
const MAX_NAMED_KEYS = 20;

@Injectable()
export class ClientsService {
  constructor(
    private readonly transactions: Transactions,
    private readonly clients: ClientsRepository,
    private readonly keys: KeysRepository,
    private readonly scopes: ScopesRepository,
    private readonly audit: AuditLog,
    private readonly cache: KeyCache,
  ) {}

  async create(dto: CreateClientDto, ctx: RequestContext): Promise<ClientResponse> {
    if (ctx.actor && !ctx.actor.isSystem) throw new Forbidden('Only root keys may create clients.');
    return this.transactions.run(async (manager) => {
      const allowedScopes = await this.ceilingFrom(manager, dto.allowed_scopes ?? []);
      const fields = scrubbed(dto);
      const client = await this.clients.insert(
        {
          name: fields.name,
          description: fields.description ?? '',
          allowedScopes,
          metadata: fields.metadata ?? {},
        },
        manager,
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
    const rows = await this.clients.listPage({
      ownClientId: ownClientOnly(actor),
      status: query.status,
      after: cursor,
      limit: query.limit,
    });
    return toPage(rows, query.limit, map, (c) => ({ at: c.createdAt.toISOString(), id: c.id }));
  }

  async get(id: string, actor: Actor): Promise<ClientResponse> {
    return map(await this.visible(this.transactions.manager, id, actor));
  }

  async update(id: string, dto: UpdateClientDto, ctx: RequestContext): Promise<ClientResponse> {
    if (dto.allowed_scopes !== undefined && ctx.actor && !ctx.actor.isSystem) {
      // After the guard, before any lookup: the same answer whether or not the client is the caller's.
      throw new Forbidden('Only root keys may set allowed_scopes.');
    }
    return this.transactions.run(async (manager, afterCommit) => {
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
        ...(wanted !== undefined ? { allowed_scopes: await this.ceilingFrom(manager, wanted) } : {}),
      };
      const changes = diff(before, after);
      if (Object.keys(changes).length === 0) return map(client);
      if (changes.allowed_scopes) await this.assertCeilingHolds(manager, client, after.allowed_scopes);
      const { allowed_scopes: allowedScopes, ...columns } = after;
      Object.assign(client, columns, { allowedScopes });
      const saved = await this.clients.save(client, manager);
      const action = changes.status
        ? after.status === 'suspended'
          ? 'client.suspended'
          : 'client.reactivated'
        : 'client.updated';
      await this.audit.append(manager, ctx, { action, targetType: 'client', targetId: id, clientId: id, changes });
      // After the commit, as for keys (KeysService.changeKey): the trigger's notification may come later.
      if (changes.status) afterCommit(() => this.cache.invalidateClient(id));
      return map(saved);
    });
  }

  /**
   * The client if the actor may see it; otherwise the same 404 as for a client that does not exist.
   * `lock`: `write` to change it; `share` to rely on its ceiling until the transaction ends (a
   * change of the ceiling waits for it, and it for the change).
   */
  async visible(manager: EntityManager, id: string, actor: Actor, lock?: 'write' | 'share'): Promise<ClientEntity> {
    const own = ownClientOnly(actor);
    if (own && own !== id) throw new ClientNotFound();
    const client = await this.clients.findById(id, lock, manager);
    if (!client) throw new ClientNotFound();
    return client;
  }

  /**
   * A ceiling as stored: sorted, each entry a catalogued scope or a `:*` wildcard (which need
   * not be catalogued itself: it only bounds what keys may hold).
   */
  private async ceilingFrom(manager: EntityManager, scopes: string[]): Promise<string[]> {
    const exact = scopes.filter((s) => !s.endsWith(':*'));
    const known = await this.scopes.existing(exact, manager);
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
  private async assertCeilingHolds(manager: EntityManager, client: ClientEntity, ceiling: string[]): Promise<void> {
    if (ceiling.length === 0) return;
    if (client.isSystem) throw new Conflict("The system client's keys are root keys; it takes no allowed_scopes.");
    const rows = await this.keys.scopesOfLiveKeys(client.id, manager);
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
