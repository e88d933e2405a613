import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { RequestContext } from '../auth/actor';
import { AuditLog } from '../audit/audit-log';
import { Conflict, Forbidden, NotFound } from '../common/errors';
import { CursorPart, CursorShape, decodeCursor, Page, toPage } from '../common/pagination';
import { PageQueryDto } from '../common/pagination.dto';
import { isScopeName, RESERVED_NAMESPACE } from '../credentials/scope-match';
import { CreateScopeDto } from './dto/create-scope.dto';
import { ScopeResponse } from './dto/scope.response';
import { ScopeEntity } from './scope.entity';

/** The scope list's cursor: the last scope name, ordered by name. */
const SCOPE_CURSOR: CursorShape = { at: CursorPart.empty, id: isScopeName };

export class ScopeNotFound extends NotFound {
  constructor() {
    super('No scope with that name in the catalog.');
  }
}

@Injectable()
export class ScopesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
  ) {}

  async create(dto: CreateScopeDto, ctx: RequestContext): Promise<ScopeResponse> {
    assertRoot(ctx);
    return this.dataSource.transaction(async (manager) => {
      const inserted = await manager
        .createQueryBuilder()
        .insert()
        .into(ScopeEntity)
        .values({ name: dto.name, description: dto.description ?? '' })
        .orIgnore()
        .returning('*')
        .execute();
      if (inserted.identifiers.length === 0 || !inserted.raw[0])
        throw new Conflict(`The scope ${dto.name} is already in the catalog.`);
      const scope = await manager.findOneByOrFail(ScopeEntity, { name: dto.name });
      await this.audit.append(manager, ctx, {
        action: 'scope.created',
        targetType: 'scope',
        targetId: scope.name,
        changes: { description: scope.description },
      });
      return map(scope);
    });
  }

  async list(query: PageQueryDto): Promise<Page<ScopeResponse>> {
    const cursor = decodeCursor(query.cursor, SCOPE_CURSOR);
    const qb = this.dataSource.getRepository(ScopeEntity).createQueryBuilder('s');
    if (cursor) qb.andWhere('s.name > :name', { name: cursor.id });
    const rows = await qb
      .orderBy('s.name', 'ASC')
      .limit(query.limit + 1)
      .getMany();
    return toPage(rows, query.limit, map, (s) => ({ at: '', id: s.name }));
  }

  async remove(name: string, ctx: RequestContext): Promise<void> {
    assertRoot(ctx);
    // A name no scope can have names nothing (and a NUL in it would be refused by the database).
    if (!isScopeName(name)) throw new ScopeNotFound();
    if (name.startsWith(RESERVED_NAMESPACE))
      throw new Conflict('Scopes in the admin: namespace are built in and cannot be deleted.');
    await this.dataSource.transaction(async (manager) => {
      const scope = await manager.findOne(ScopeEntity, { where: { name }, lock: { mode: 'pessimistic_write' } });
      if (!scope) throw new ScopeNotFound();
      const [{ holders }] = await manager.query<{ holders: number }[]>(
        'SELECT count(*)::int AS holders FROM key_scopes WHERE scope_name = $1',
        [name],
      );
      if (holders > 0) {
        throw new Conflict(
          `${holders} key${holders === 1 ? '' : 's'} still hold${holders === 1 ? 's' : ''} ${name}; remove it from them first.`,
          {
            holders,
          },
        );
      }
      await manager.delete(ScopeEntity, { name });
      await this.audit.append(manager, ctx, { action: 'scope.deleted', targetType: 'scope', targetId: name });
    });
  }
}

function assertRoot(ctx: RequestContext): void {
  if (ctx.actor && !ctx.actor.isSystem) throw new Forbidden('Only root keys may change the scope catalog.');
}

function map(s: ScopeEntity): ScopeResponse {
  return { name: s.name, description: s.description, created_at: s.createdAt.toISOString() };
}
