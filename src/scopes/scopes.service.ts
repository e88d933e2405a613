import { Injectable } from '@nestjs/common';
import { RequestContext } from '../auth/actor';
import { AuditLog } from '../audit/audit-log';
import { Conflict, Forbidden, NotFound } from '../common/errors';
import { CursorPart, CursorShape, decodeCursor, Page, toPage } from '../common/pagination';
import { PageQueryDto } from '../common/pagination.dto';
import { isScopeName, RESERVED_NAMESPACE } from '../credentials/scope-match';
import { CreateScopeDto } from './dto/create-scope.dto';
import { ScopeResponse } from './dto/scope.response';
import { Transactions } from '../database/transactions';
import { KeysRepository } from '../store/keys.repository';
import { ScopeEntity } from '../store/scope.entity';
import { ScopesRepository } from '../store/scopes.repository';

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
    private readonly transactions: Transactions,
    private readonly scopes: ScopesRepository,
    private readonly keys: KeysRepository,
    private readonly audit: AuditLog,
  ) {}

  async create(dto: CreateScopeDto, ctx: RequestContext): Promise<ScopeResponse> {
    assertRoot(ctx);
    return this.transactions.run(async (manager) => {
      const scope = await this.scopes.insertIfAbsent(dto.name, dto.description ?? '', manager);
      if (!scope) throw new Conflict(`The scope ${dto.name} is already in the catalog.`);
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
    const rows = await this.scopes.listPage(cursor ? cursor.id : null, query.limit);
    return toPage(rows, query.limit, map, (s) => ({ at: '', id: s.name }));
  }

  async remove(name: string, ctx: RequestContext): Promise<void> {
    assertRoot(ctx);
    // A name no scope can have names nothing (and a NUL in it would be refused by the database).
    if (!isScopeName(name)) throw new ScopeNotFound();
    if (name.startsWith(RESERVED_NAMESPACE))
      throw new Conflict('Scopes in the admin: namespace are built in and cannot be deleted.');
    await this.transactions.run(async (manager) => {
      const scope = await this.scopes.findForUpdate(name, manager);
      if (!scope) throw new ScopeNotFound();
      const holders = await this.keys.countHolders(name, manager);
      if (holders > 0) {
        throw new Conflict(
          `${holders} key${holders === 1 ? '' : 's'} still hold${holders === 1 ? 's' : ''} ${name}; remove it from them first.`,
          {
            holders,
          },
        );
      }
      await this.scopes.delete(name, manager);
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
