import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequestContext } from '../auth/actor';
import { Ctx, RequireScopes } from '../auth/require-scopes.decorator';
import { ApiBadRequest } from '../common/api-responses';
import { AuditService } from './audit.service';
import { AuditEventPage } from './dto/audit-event.response';
import { ListAuditEventsQueryDto } from './dto/list-audit-events.dto';

@ApiTags('audit')
@Controller('v1/audit-events')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireScopes('admin:audit:read')
  @ApiOperation({ summary: 'List audit events', description: 'Every state change, newest first, keyset-paginated; filter by action, actor, target and time.' })
  @ApiOkResponse({ type: AuditEventPage })
  @ApiBadRequest()
  list(@Query() query: ListAuditEventsQueryDto, @Ctx() ctx: RequestContext): Promise<AuditEventPage> {
    return this.audit.list(query, ctx.actor!);
  }
}
