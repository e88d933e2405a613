import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Actor, ownClientOnly, RequestContext } from '../auth/actor';
import { AuditLog } from '../audit/audit-log';
import { Conflict, Forbidden, NotFound } from '../common/errors';
import { KeyCache } from '../credentials/key-cache';
import { CREATED_AT_AND_ID, decodeCursor, Page, toPage } from '../common/pagination';
import { diff } from '../common/diff';
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
      const client = await manager.save(
        manager.create(ClientEntity, { name: dto.name, description: dto.description ?? '', metadata: dto.metadata ?? {} }),
      );
      await this.audit.append(manager, ctx, {
        action: 'client.created',
        targetType: 'client',
        targetId: client.id,
        clientId: client.id,
        changes: { name: client.name, description: client.description, metadata: client.metadata },
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
    const rows = await qb.orderBy('c.created_at', 'DESC').addOrderBy('c.id', 'DESC').limit(query.limit + 1).getMany();
    return toPage(rows, query.limit, map, (c) => ({ at: c.createdAt.toISOString(), id: c.id }));
  }

  async get(id: string, actor: Actor): Promise<ClientResponse> {
    return map(await this.visible(this.dataSource.manager, id, actor));
  }

  async update(id: string, dto: UpdateClientDto, ctx: RequestContext): Promise<ClientResponse> {
    let statusChanged = false;
    const updated = await this.dataSource.transaction(async (manager) => {
      const client = await this.visible(manager, id, ctx.actor!, true);
      if (client.isSystem && dto.status === 'suspended') {
        throw new Conflict('The system client holds the root keys and cannot be suspended.');
      }
      const before = { name: client.name, description: client.description, metadata: client.metadata, status: client.status };
      const after = { ...before, ...definedOnly(dto) };
      const changes = diff(before, after);
      if (Object.keys(changes).length === 0) return map(client);
      Object.assign(client, after);
      const saved = await manager.save(client);
      const action = changes.status ? (after.status === 'suspended' ? 'client.suspended' : 'client.reactivated') : 'client.updated';
      await this.audit.append(manager, ctx, { action, targetType: 'client', targetId: id, clientId: id, changes });
      statusChanged = Boolean(changes.status);
      return map(saved);
    });
    // After the commit, as for keys (KeysService.changeKey): the trigger's notification may come later.
    if (statusChanged) this.cache.invalidateClient(id);
    return updated;
  }

  /** The client if the actor may see it; otherwise the same 404 as for a client that does not exist. */
  async visible(manager: EntityManager, id: string, actor: Actor, forUpdate = false): Promise<ClientEntity> {
    const own = ownClientOnly(actor);
    if (own && own !== id) throw new ClientNotFound();
    const client = await manager.findOne(ClientEntity, { where: { id }, ...(forUpdate ? { lock: { mode: 'pessimistic_write' as const } } : {}) });
    if (!client) throw new ClientNotFound();
    return client;
  }
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
    metadata: c.metadata,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}
